import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../src/server.js';
import { loadSettings } from '../src/settings.js';

const KEY = 'test-key-1';

async function post(server: RunningServer, path: string, body: unknown, key: string | null = KEY): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('server settings', () => {
  it('size prefill chunks to half a decode step while streams run, unless PREFILL_TIME_RATIO says otherwise', () => {
    assert.equal(loadSettings({}, () => '').prefillTimeRatio, 0.5);
    assert.equal(loadSettings({ PREFILL_TIME_RATIO: '0' }, () => '').prefillTimeRatio, 0);
  });

  it("leave ONNX Runtime's threads sleeping between steps unless ORT_SPIN_WAIT=1, and refuse other values", () => {
    assert.equal(loadSettings({}, () => '').spinWait, false);
    assert.equal(loadSettings({ ORT_SPIN_WAIT: '1' }, () => '').spinWait, true);
    assert.throws(
      () => loadSettings({ ORT_SPIN_WAIT: 'yes' }, () => ''),
      /^Error: ORT_SPIN_WAIT must be 0 or 1, got "yes"$/,
    );
  });
});

describe('the model server', () => {
  let server: RunningServer;
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    MODEL_DIR: process.env.MODEL_DIR ?? 'model',
    API_KEYS: KEY,
    RATE_LIMIT: '600/minute',
    SHUTDOWN_TIMEOUT: '5',
    // Greedy results are cached, so the tests below also check what the cache tells apart.
    PROMPT_CACHE_SIZE: '16',
  };
  const logs: string[] = [];
  before(async () => {
    server = await startServer(
      loadSettings(env, () => ''),
      (line) => logs.push(line),
    );
  });
  after(async () => server.drain());

  it('says at start-up which KV cache path runs and how many presents each step still builds', () => {
    assert.match(logs.join('\n'), /^serving .* KV cache in-place \(0 presents built per step\)$/m);
  });

  it('answers a completion with usage and a finish reason', async () => {
    const response = await post(server, '/v1/completions', { prompt: 'Hello', max_tokens: 5, temperature: 0 });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      choices: Array<{ text: string; finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    assert.equal(body.choices[0]!.finish_reason, 'length');
    assert.equal(body.usage.completion_tokens, 5);
  });

  it('streams SSE chunks that join to the non-streamed text, ending with [DONE] and usage when asked', async () => {
    const plain = (await (
      await post(server, '/v1/completions', { prompt: 'The model', max_tokens: 8, temperature: 0 })
    ).json()) as { choices: Array<{ text: string }> };
    const response = await post(server, '/v1/completions', {
      prompt: 'The model',
      max_tokens: 8,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const events = (await response.text())
      .split('\n\n')
      .filter(Boolean)
      .map((event) => event.replace(/^data: /, ''));
    assert.equal(events.pop(), '[DONE]');
    const chunks = events.map(
      (event) => JSON.parse(event) as { choices: Array<{ text: string }>; usage?: { completion_tokens: number } },
    );
    assert.equal(chunks.pop()!.usage!.completion_tokens, 8);
    assert.equal(chunks.map((chunk) => chunk.choices[0]?.text ?? '').join(''), plain.choices[0]!.text);
  });

  it('serves chat completions through the chat template', async () => {
    const response = await post(server, '/v1/chat/completions', {
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 4,
      temperature: 0,
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { object: string; choices: Array<{ message: { role: string } }> };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0]!.message.role, 'assistant');
  });

  it('refuses a missing or wrong key with 401 and bad input with 400', async () => {
    assert.equal((await post(server, '/v1/completions', { prompt: 'x' }, null)).status, 401);
    assert.equal((await post(server, '/v1/completions', { prompt: 'x' }, 'wrong')).status, 401);
    for (const body of [
      '{not json',
      { prompt: 3 },
      { prompt: 'x', max_tokens: -5 },
      { prompt: 'x', max_tokens: 100000 },
      { prompt: 'x', model: 'other' },
      { prompt: 'x', temperature: 'hot' },
      { prompt: 'x', logit_bias: { x: 1 } },
      { prompt: 'x', ignore_eos: 'yes' },
      { prompt: 'x', presence_penalty: 2.5 },
      { prompt: 'x', frequency_penalty: -3 },
      { prompt: 'x', repetition_penalty: 0 },
      { prompt: 'x', top_k: 1.5 },
    ]) {
      const response = await post(server, '/v1/completions', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(typeof ((await response.json()) as { error: { message: string } }).error.message, 'string');
    }
  });

  it('applies presence, frequency and repetition penalties, and caches no greedy text across them', async () => {
    const complete = async (extra: object) => {
      const response = await post(server, '/v1/completions', {
        prompt: 'The model',
        max_tokens: 12,
        temperature: 0,
        ...extra,
      });
      assert.equal(response.status, 200);
      return ((await response.json()) as { choices: Array<{ text: string }> }).choices[0]!.text;
    };
    const plain = await complete({});
    const penalties = { presence_penalty: 1, frequency_penalty: 2, repetition_penalty: 1.5 };
    const penalised = await complete(penalties);
    assert.notEqual(penalised, plain);
    assert.equal(await complete(penalties), penalised);
    assert.equal(await complete({ top_k: -1 }), plain);
  });

  it('exposes health, readiness and Prometheus metrics', async () => {
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    assert.equal((await fetch(`${server.url}/ready`)).status, 200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^llmops_requests_total\{route="\/v1\/completions",status="200"\} \d+$/m);
    assert.match(metrics, /^llmops_queue_depth \d+$/m);
    assert.match(metrics, /^llmops_time_to_first_token_seconds_count \d+$/m);
    // Every scheduling step's time split: decode steps ran and prompts were prefilled.
    assert.match(metrics, /^llmops_step_decode_seconds_count [1-9]\d*$/m);
    assert.match(metrics, /^llmops_step_prefill_seconds_count [1-9]\d*$/m);
    // Declared, though no prompt here was fed one token per step (see PREFILL_TIME_RATIO).
    assert.match(metrics, /^# TYPE llmops_step_fed_prompt_tokens_total counter$/m);
    assert.match(metrics, /^llmops_step_prefill_tokens_total [1-9]\d*$/m);
    assert.match(metrics, /^llmops_kv_memory_reserved_bytes \d+$/m);
    assert.match(metrics, /^llmops_kv_memory_grown_bytes \d+$/m);
  });
});
