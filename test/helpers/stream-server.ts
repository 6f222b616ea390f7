/**
 * A fast streaming LLM server of the tests' own: OpenAI chat/completions SSE, TGI's generate_stream, GET /v1/models,
 * with exactly controlled timing (first token held `ttftMs`, then a token every `itlMs`) and scripted misbehaviour,
 * so a load generator's measurements can be checked against known truth.
 *
 * `scripts/bench/stream-server.mjs` runs it as a process of its own (`--ttft 50 --itl 10 --tokens 8`); it prints
 * `stream server on http://127.0.0.1:PORT` on stderr. GET /stats returns what it saw.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** What a request gets; `behaviours` cycle in order over the requests the server receives. */
export type Behaviour =
  | 'ok'
  | `http_${number}`
  /** Destroys the socket before any response byte. */
  | 'reset'
  /** Sends the first tokens, then destroys the socket. */
  | 'midstream'
  /** Sends a data line that is not JSON. */
  | 'malformed'
  /** Never answers (the client's timeout must fire). */
  | 'hang'
  /** A well-formed error event instead of tokens. */
  | 'error_event';

export interface StreamServerOptions {
  ttftMs?: number;
  itlMs?: number;
  /** Tokens per response when the request asks for more (or names no max). */
  tokens?: number;
  /** Send `usage` when the request asks for it (stream_options.include_usage). @default true */
  usage?: boolean;
  behaviours?: Behaviour[];
  /** Requests arriving in [stallFromMs, stallFromMs + stallForMs) after start wait until the stall ends. */
  stallFromMs?: number;
  stallForMs?: number;
  /** Several tokens in one SSE chunk (write), as servers that coalesce do. @default 1 */
  tokensPerChunk?: number;
  /**
   * Send the response headers with the first token instead of at once, so that a plain HTTP client's
   * time-to-first-byte (hey's) is the time to first token. @default false
   */
  holdHeaders?: boolean;
  /** `usage.completion_tokens` is the true count plus skew[i mod length] for the i-th request: a server that miscounts. */
  usageSkew?: number[];
  /** Keep every streaming request's JSON body in `stats().bodies`, in arrival order. @default false */
  recordBodies?: boolean;
  /**
   * The first token is held `ttftMs + ttftPerInFlightMs × (requests in flight, this one included)`: a server whose
   * latency rises with load, with a known limit for a TTFT SLO. @default 0
   */
  ttftPerInFlightMs?: number;
}

export interface ServerStats {
  requests: number;
  maxInFlight: number;
  /** Arrival times (ms since the server started) of the streaming requests. */
  arrivalsMs: number[];
  byBehaviour: Record<string, number>;
  /** With `recordBodies`: the request bodies, in arrival order. */
  bodies?: unknown[];
}

export interface StreamServer {
  url: string;
  stats(): ServerStats;
  close(): Promise<void>;
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];

export async function startStreamServer(options: StreamServerOptions = {}, port = 0): Promise<StreamServer> {
  const ttftMs = options.ttftMs ?? 0;
  const itlMs = options.itlMs ?? 0;
  const behaviours = options.behaviours ?? ['ok'];
  const perChunk = Math.max(1, options.tokensPerChunk ?? 1);
  let usageReports = 0;
  const startedAt = performance.now();
  const stats: ServerStats = {
    requests: 0,
    maxInFlight: 0,
    arrivalsMs: [],
    byBehaviour: {},
    ...(options.recordBodies ? { bodies: [] } : {}),
  };
  let inFlight = 0;
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models')
      return json(res, 200, { object: 'list', data: [{ id: 'stream-test', object: 'model' }] });
    if (req.method === 'GET' && req.url === '/stats') return json(res, 200, stats);
    if (req.method === 'GET') return json(res, 200, { ok: true });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const arrivedMs = performance.now() - startedAt;
      const behaviour = behaviours[stats.requests % behaviours.length]!;
      stats.requests += 1;
      stats.arrivalsMs.push(Math.round(arrivedMs * 1000) / 1000);
      stats.byBehaviour[behaviour] = (stats.byBehaviour[behaviour] ?? 0) + 1;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return json(res, 400, { error: { message: 'bad json' } });
      }
      stats.bodies?.push(body);
      const stallEnd = options.stallFromMs === undefined ? 0 : options.stallFromMs + (options.stallForMs ?? 0);
      const stallMs =
        options.stallFromMs !== undefined && arrivedMs >= options.stallFromMs && arrivedMs < stallEnd
          ? stallEnd - arrivedMs
          : 0;
      inFlight += 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      res.on('close', () => (inFlight -= 1));
      const heldMs = ttftMs + (options.ttftPerInFlightMs ?? 0) * inFlight;
      const start = () => respond(req.url ?? '', body, behaviour, res, heldMs);
      if (stallMs > 0) setTimeout(start, stallMs);
      else start();
    });
  });

  function respond(
    url: string,
    body: Record<string, unknown>,
    behaviour: Behaviour,
    res: http.ServerResponse,
    firstTokenMs: number,
  ): void {
    if (behaviour === 'hang') return;
    if (behaviour === 'reset') return void res.socket?.destroy();
    if (behaviour.startsWith('http_'))
      return json(res, Number(behaviour.slice(5)), { error: { message: `scripted ${behaviour}`, type: 'test' } });
    const tgi = url.startsWith('/generate_stream');
    const chat = url.startsWith('/v1/chat/completions');
    const requested = tgi
      ? (body.parameters as { max_new_tokens?: number } | undefined)?.max_new_tokens
      : (body.max_tokens as number | undefined);
    const tokens = Math.max(1, Math.min(options.tokens ?? 8, requested ?? Infinity));
    const withUsage =
      (options.usage ?? true) &&
      Boolean((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (!options.holdHeaders) res.flushHeaders();
    const event = (i: number) => {
      const text = `${WORDS[i % WORDS.length]} `;
      if (tgi) {
        const last = i === tokens - 1;
        return `data:${JSON.stringify({ index: i, token: { id: i, text, logprob: 0, special: false }, generated_text: last ? 'done' : null, details: last ? { finish_reason: 'length', generated_tokens: tokens } : null })}\n\n`;
      }
      const choice = chat
        ? { index: 0, delta: { content: text }, finish_reason: null }
        : { index: 0, text, finish_reason: null };
      return `data: ${JSON.stringify({ id: 'x', object: chat ? 'chat.completion.chunk' : 'text_completion', choices: [choice] })}\n\n`;
    };
    const finish = () => {
      if (!tgi) {
        const skew = options.usageSkew?.[usageReports % options.usageSkew.length] ?? 0;
        if (withUsage) {
          usageReports += 1;
          res.write(
            `data: ${JSON.stringify({ id: 'x', choices: [], usage: { prompt_tokens: 3, completion_tokens: tokens + skew, total_tokens: tokens + skew + 3 } })}\n\n`,
          );
        }
        res.write('data: [DONE]\n\n');
      }
      res.end();
    };
    let sent = 0;
    const next = () => {
      if (res.destroyed) return;
      if (behaviour === 'malformed') return void res.end('data: {not json\n\n');
      if (behaviour === 'error_event') {
        res.write(`data: ${JSON.stringify({ error: { message: 'scripted error event' } })}\n\n`);
        return void res.end();
      }
      let chunk = '';
      for (let i = 0; i < perChunk && sent < tokens; i += 1) chunk += event(sent++);
      res.write(chunk);
      if (behaviour === 'midstream' && sent >= Math.min(2, tokens)) return void res.socket?.destroy();
      if (sent >= tokens) return finish();
      setTimeout(next, itlMs);
    };
    setTimeout(next, firstTokenMs);
  }

  server.on('connection', (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 60_000;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    stats: () => structuredClone(stats),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
