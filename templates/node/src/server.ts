import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Template } from '@huggingface/jinja';
import { ApiKeys } from './auth.js';
import { CausalLM, type Generation } from './engine/index.js';
import { Metrics } from './metrics.js';
import { HttpError, parseGenerationRequest, usage, type GenerationRequest } from './openai.js';
import { TokenBuckets } from './rate-limit.js';
import { Scheduler } from './scheduler.js';
import { loadSettings, type Settings } from './settings.js';

export interface RunningServer {
  server: Server;
  url: string;
  /** Stop accepting, finish in-flight streams (up to the shutdown timeout), then close. */
  drain(): Promise<void>;
}

type Route = '/v1/completions' | '/v1/chat/completions' | '/v1/models' | '/health' | '/ready' | '/metrics' | 'other';

/** Starts the OpenAI-compatible server on the model in settings.modelDir. */
export async function startServer(
  settings: Settings,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<RunningServer> {
  const lm = await CausalLM.load({
    dir: settings.modelDir,
    provider: settings.provider,
    ...(settings.threads ? { threads: settings.threads } : {}),
    spinWait: settings.spinWait,
  });
  if (settings.kvReservePositions > 0) {
    const reserved = await lm.reserveKv(settings.maxBatchSize, settings.kvReservePositions);
    if (reserved)
      log(
        `reserved ${(reserved.bytes / 2 ** 20).toFixed(0)} MiB of KV memory for ${reserved.rows} sequences of ${reserved.positions} positions in ${(reserved.ms / 1000).toFixed(1)} s`,
      );
  }
  const keys = new ApiKeys(settings.apiKeys);
  const buckets = settings.rateLimit ? new TokenBuckets(settings.rateLimit) : null;
  const metrics = new Metrics({
    batchSize: () => scheduler.active,
    waiting: () => scheduler.waiting,
    queueDepth: () => scheduler.depth,
    kvMemory: () => lm.kvMemory,
  });
  const scheduler = new Scheduler(lm, settings, (stats) => metrics.observeStep(stats));
  const chatTemplate = lm.tokenizer.chatTemplate ? new Template(lm.tokenizer.chatTemplate) : null;
  const promptCache = new Map<string, Generation>();
  if (!keys.enabled)
    log('WARNING: API_KEYS is empty: authentication is OFF and anyone who can reach this port can use the model');
  let draining = false;
  const inFlight = new Set<Promise<unknown>>();

  const server = createServer((req, res) => {
    const started = performance.now();
    const route = routeOf(req.url);
    res.on('finish', () => {
      metrics.requests.inc({ route, status: String(res.statusCode) });
      metrics.latency.observe((performance.now() - started) / 1000, { route });
    });
    const work = handle(req, res, route, started).catch((error: unknown) =>
      sendError(res, error instanceof HttpError ? error : internal(error, log)),
    );
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, route: Route, started: number): Promise<void> {
    if (route === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (route === '/ready' && req.method === 'GET')
      return sendJson(res, draining ? 503 : 200, {
        status: draining ? 'draining' : 'ready',
        model: settings.modelName,
      });
    if (route === '/metrics' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      return void res.end(metrics.render());
    }
    if (route === 'other')
      throw new HttpError(404, `no route ${req.method} ${req.url}`, 'invalid_request_error', null, 'not_found');
    if (draining)
      throw new HttpError(503, 'the server is shutting down', 'server_error', null, 'draining', {
        connection: 'close',
      });
    const client = authenticate(req);
    if (route === '/v1/models' && req.method === 'GET') {
      return sendJson(res, 200, {
        object: 'list',
        data: [{ id: settings.modelName, object: 'model', created: 0, owned_by: 'llmops' }],
      });
    }
    if (req.method !== 'POST')
      throw new HttpError(405, `${req.method} is not allowed on ${route}`, 'invalid_request_error');
    if (buckets) {
      const retryAfter = buckets.take(client);
      if (retryAfter > 0)
        throw new HttpError(
          429,
          `rate limit exceeded: ${settings.rateLimit!.requests} requests per ${settings.rateLimit!.windowMs / 1000}s`,
          'rate_limit_error',
          null,
          'rate_limit_exceeded',
          { 'retry-after': String(retryAfter) },
        );
    }
    const body = await readJson(req, settings.maxBodyBytes);
    const kind = route === '/v1/chat/completions' ? 'chat' : 'completions';
    const request = parseGenerationRequest(body, kind, {
      model: settings.modelName,
      maxTokens: 16,
      vocabSize: lm.vocabSize,
    });
    await generate(req, res, request, kind, started);
  }

  function authenticate(req: IncomingMessage): string {
    if (!keys.enabled) return 'anonymous';
    const index = keys.check(req.headers.authorization);
    if (index < 0)
      throw new HttpError(
        401,
        'invalid or missing API key (Authorization: Bearer <key>)',
        'authentication_error',
        null,
        'invalid_api_key',
      );
    return `key-${index}`;
  }

  function renderPrompt(request: GenerationRequest): string {
    if (request.prompt !== undefined) return request.prompt;
    const messages = request.messages!;
    if (chatTemplate) {
      return chatTemplate.render({
        messages,
        add_generation_prompt: true,
        bos_token: lm.tokenizer.specialToken('bos_token') ?? '',
        eos_token: lm.tokenizer.specialToken('eos_token') ?? '',
      });
    }
    // No chat_template in tokenizer_config.json: a plain transcript the model can continue.
    return `${messages.map((m) => `${m.role}: ${m.content}`).join('\n')}\nassistant:`;
  }

  async function generate(
    req: IncomingMessage,
    res: ServerResponse,
    request: GenerationRequest,
    kind: 'chat' | 'completions',
    started: number,
  ): Promise<void> {
    const promptIds = lm.tokenizer.encode(renderPrompt(request));
    const context = lm.contextLength;
    if (context !== undefined && promptIds.length >= context)
      throw new HttpError(
        400,
        `the prompt has ${promptIds.length} tokens; the context is ${context}`,
        'invalid_request_error',
        kind === 'chat' ? 'messages' : 'prompt',
        'context_length_exceeded',
      );
    if (context !== undefined && promptIds.length + request.maxTokens > context)
      throw new HttpError(
        400,
        `max_tokens ${request.maxTokens} + ${promptIds.length} prompt tokens exceeds the context of ${context}`,
        'invalid_request_error',
        'max_tokens',
        'context_length_exceeded',
      );
    if (scheduler.full)
      throw new HttpError(503, 'the request queue is full; retry later', 'server_error', null, 'overloaded', {
        'retry-after': '1',
      });

    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: string, finish: string | null) =>
      kind === 'chat'
        ? {
            id,
            object: 'chat.completion.chunk',
            created,
            model: request.model,
            choices: [{ index: 0, delta: delta ? { content: delta } : {}, logprobs: null, finish_reason: finish }],
          }
        : {
            id,
            object: 'text_completion',
            created,
            model: request.model,
            choices: [{ index: 0, text: delta, logprobs: null, finish_reason: finish }],
          };
    const sse = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);

    let firstToken = true;
    const onText = (delta: string) => {
      if (firstToken) {
        firstToken = false;
        metrics.ttft.observe((performance.now() - started) / 1000);
      }
      if (request.stream && delta) sse(chunk(delta, null));
    };
    if (request.stream) {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      if (kind === 'chat')
        sse({
          ...chunk('', null),
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
        });
    }

    // Deterministic requests may share results (PROMPT_CACHE_SIZE > 0): identical greedy prompts give identical text.
    const cacheKey =
      settings.promptCacheSize > 0 && request.temperature === 0
        ? createHash('sha256')
            .update(
              JSON.stringify([
                promptIds,
                request.maxTokens,
                request.stop,
                [...request.logitBias],
                request.ignoreEos,
                request.presencePenalty,
                request.frequencyPenalty,
                request.repetitionPenalty,
              ]),
            )
            .digest('hex')
        : null;
    let generation = cacheKey ? promptCache.get(cacheKey) : undefined;
    if (generation) onText(generation.text);
    else {
      const sequence = scheduler.submit({
        promptIds,
        maxTokens: request.maxTokens,
        temperature: request.temperature,
        topP: request.topP,
        topK: request.topK,
        presencePenalty: request.presencePenalty,
        frequencyPenalty: request.frequencyPenalty,
        repetitionPenalty: request.repetitionPenalty,
        stop: request.stop,
        logitBias: request.logitBias,
        ignoreEos: request.ignoreEos,
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        onText,
      });
      const cancel = () => sequence.cancel();
      // A client that goes away stops its sequence, freeing the batch slot.
      res.on('close', () => {
        if (!res.writableFinished) cancel();
      });
      generation = await sequence.done;
      if (cacheKey && generation.finishReason !== 'cancelled') {
        promptCache.set(cacheKey, generation);
        if (promptCache.size > settings.promptCacheSize) promptCache.delete(promptCache.keys().next().value!);
      }
    }
    if (generation.finishReason === 'cancelled') return void res.end();
    metrics.promptTokens.inc({}, promptIds.length);
    metrics.generatedTokens.inc({}, generation.tokenIds.length);
    const finish = generation.finishReason;
    const used = usage(promptIds.length, generation.tokenIds.length);
    if (request.stream) {
      sse(chunk('', finish));
      if (request.includeUsage)
        sse({
          id,
          object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
          created,
          model: request.model,
          choices: [],
          usage: used,
        });
      res.end('data: [DONE]\n\n');
      return;
    }
    sendJson(
      res,
      200,
      kind === 'chat'
        ? {
            id,
            object: 'chat.completion',
            created,
            model: request.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: generation.text },
                logprobs: null,
                finish_reason: finish,
              },
            ],
            usage: used,
          }
        : {
            id,
            object: 'text_completion',
            created,
            model: request.model,
            choices: [{ index: 0, text: generation.text, logprobs: null, finish_reason: finish }],
            usage: used,
          },
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  const url = `http://${settings.host === '0.0.0.0' ? '127.0.0.1' : settings.host}:${port}`;
  log(
    `serving ${settings.modelName} (${lm.files.dir}) on ${url} — max batch ${settings.maxBatchSize}, model loaded in ${lm.loadMs.toFixed(0)} ms, ` +
      `KV cache ${lm.kvCache} (${lm.presentsPerStep} presents built per step)${lm.kvCacheFallback ? `: ${lm.kvCacheFallback}` : ''}`,
  );

  return {
    server,
    url,
    async drain() {
      draining = true;
      server.close();
      server.closeIdleConnections();
      const deadline = new Promise((resolve) => setTimeout(resolve, settings.shutdownTimeoutMs).unref());
      await Promise.race([Promise.allSettled([...inFlight]), deadline]);
      server.closeAllConnections();
      await lm.dispose();
    },
  };
}

function routeOf(url: string | undefined): Route {
  const path = (url ?? '/').split('?')[0]!;
  return (
    (['/v1/completions', '/v1/chat/completions', '/v1/models', '/health', '/ready', '/metrics'] as const).find(
      (route) => route === path,
    ) ?? 'other'
  );
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    throw new HttpError(
      413,
      `the body is larger than ${limit} bytes`,
      'invalid_request_error',
      null,
      'body_too_large',
      { connection: 'close' },
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new HttpError(
        413,
        `the body is larger than ${limit} bytes`,
        'invalid_request_error',
        null,
        'body_too_large',
        { connection: 'close' },
      );
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON', 'invalid_request_error', null, 'invalid_json');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) return void res.end();
  sendJson(res, error.status, error.toJSON(), error.headers);
}

function internal(error: unknown, log: (line: string) => void): HttpError {
  // Engine usage errors (e.g. an empty prompt) are the client's; anything else is logged and hidden.
  if ((error as { exitCode?: number }).exitCode === 2) return new HttpError(400, (error as Error).message);
  log(`internal error: ${(error as Error).stack ?? String(error)}`);
  return new HttpError(500, 'internal server error', 'server_error');
}

/** Entry point: `npm start`. SIGTERM/SIGINT drain in-flight streams, then exit 0. */
export async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = loadSettings(process.env, (file) => readFileSync(file, 'utf8'));
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exit(2);
  }
  let running: RunningServer;
  try {
    running = await startServer(settings);
  } catch (error) {
    // A model that won't load or KV memory that can't be reserved: one line, no stack.
    const { message, hint, exitCode } = error as Error & { hint?: string; exitCode?: number };
    process.stderr.write(`error: ${message}${hint ? ` (${hint})` : ''}\n`);
    process.exit(exitCode ?? 1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: draining (up to ${settings.shutdownTimeoutMs / 1000}s)\n`);
    void running.drain().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
