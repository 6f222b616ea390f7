import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createStreamReader, requestBody, resolveEndpoint } from '../../src/bench/endpoint/api.js';
import {
  approximateTokenCounter,
  datasetPrompts,
  loadTokenCounter,
  syntheticPrompts,
} from '../../src/bench/endpoint/prompts.js';
import { findCapacity, findKnee } from '../../src/bench/endpoint/saturation.js';
import { meetsSlo, parseSlo, requestRates } from '../../src/bench/endpoint/slo.js';
import { SseParser } from '../../src/bench/endpoint/sse.js';
import type { EndpointRun, RequestSample } from '../../src/bench/endpoint/types.js';
import { Recorder } from '../../src/bench/stats.js';
import { LlmopsError } from '../../src/errors.js';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { tempDir } from '../helpers/temp-dir.js';

function parseAll(chunks: Uint8Array[]): string[] {
  const parser = new SseParser();
  const events: string[] = [];
  for (const chunk of chunks) parser.push(chunk, (data) => events.push(data));
  return events;
}

describe('SSE parsing', () => {
  const stream =
    'data: {"a":"é"}\r\n\r\n: keep-alive comment\n\nevent: message\ndata:{"b":1}\n\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n';
  const expected = ['{"a":"é"}', '{"b":1}', 'line one\nline two', '[DONE]'];

  it('gives the same events however the bytes are split, multi-byte characters and CRLF included', () => {
    const bytes = new TextEncoder().encode(stream);
    assert.deepEqual(parseAll([bytes]), expected);
    for (let cut = 1; cut < bytes.length; cut += 1)
      assert.deepEqual(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `split at byte ${cut}`);
    assert.deepEqual(parseAll([...bytes].map((b) => Uint8Array.of(b))), expected);
  });

  it('knows when a stream stopped in the middle of an event', () => {
    const parser = new SseParser();
    parser.push(new TextEncoder().encode('data: {"x":1}\n'), () => assert.fail('no event before the blank line'));
    assert.equal(parser.midEvent, true);
    parser.push(new TextEncoder().encode('\n'), () => undefined);
    assert.equal(parser.midEvent, false);
  });
});

describe('stream formats', () => {
  it('OpenAI chat: content deltas are tokens, role-only and usage chunks are not, [DONE] ends', () => {
    const reader = createStreamReader('openai-chat');
    assert.equal(reader.onEvent('{"choices":[{"delta":{"role":"assistant"}}]}'), false);
    assert.equal(reader.onEvent('{"choices":[{"delta":{"content":"Hi"}}]}'), true);
    assert.equal(reader.onEvent('{"choices":[{"delta":{"reasoning_content":"hmm"}}]}'), true);
    assert.equal(reader.onEvent('{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}'), false);
    assert.equal(reader.done, false);
    reader.onEvent('[DONE]');
    assert.deepEqual(
      [reader.done, reader.completionTokens, reader.promptTokens, reader.failure],
      [true, 2, 5, undefined],
    );
  });

  it('OpenAI completions read choices[0].text', () => {
    const reader = createStreamReader('openai-completions');
    assert.equal(reader.onEvent('{"choices":[{"text":" a"}]}'), true);
    assert.equal(reader.onEvent('{"choices":[{"text":""}]}'), false);
  });

  it('TGI: tokens until the event with generated_text, whose details carry the count; special tokens are not output', () => {
    const reader = createStreamReader('tgi');
    assert.equal(
      reader.onEvent('{"token":{"id":1,"text":"a","special":false},"generated_text":null,"details":null}'),
      true,
    );
    assert.equal(
      reader.onEvent(
        '{"token":{"id":2,"text":"</s>","special":true},"generated_text":"a","details":{"generated_tokens":2}}',
      ),
      false,
    );
    assert.deepEqual([reader.done, reader.completionTokens], [true, 2]);
  });

  it('bad JSON is a malformed stream, an error event a stream error', () => {
    const bad = createStreamReader('openai-chat');
    bad.onEvent('{not json');
    assert.equal(bad.failure, 'malformed_stream');
    const error = createStreamReader('tgi');
    error.onEvent('{"error":"overloaded","error_type":"overloaded"}');
    assert.equal(error.failure, 'stream_error');
  });

  it('request bodies: chat asks for usage, vllm adds ignore_eos, tgi uses max_new_tokens', () => {
    const body = (...args: Parameters<typeof requestBody>) =>
      JSON.parse(requestBody(...args)) as Record<string, unknown>;
    const prompt = { text: 'hello' };
    const chat = body('openai-chat', prompt, { model: 'm', maxTokens: 7 });
    assert.deepEqual(chat, {
      model: 'm',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(body('vllm', prompt, { model: 'm', maxTokens: 7 }).ignore_eos, true);
    assert.equal(body('openai-completions', { text: 'x', maxTokens: 3 }, { model: 'm', maxTokens: 7 }).max_tokens, 3);
    assert.deepEqual(body('tgi', prompt, { model: null, maxTokens: 7, temperature: 0.5 }).parameters, {
      max_new_tokens: 7,
      details: true,
      temperature: 0.5,
    });
  });
});

describe('endpoint URLs', () => {
  it('a bare server gets the API standard path; a path implies its API; credentials and queries stay out of the display', () => {
    assert.equal(resolveEndpoint('http://h:8000').path, '/v1/chat/completions');
    assert.equal(resolveEndpoint('http://h:8000/v1', 'openai-completions').path, '/v1/completions');
    assert.equal(resolveEndpoint('http://h:8000', 'tgi').path, '/generate_stream');
    assert.equal(resolveEndpoint('http://h:8000/v1/completions').api, 'openai-completions');
    assert.equal(resolveEndpoint('http://h/generate_stream').api, 'tgi');
    const secret = resolveEndpoint('https://user:s3cret@h/v1/chat/completions?key=s3cret');
    assert.equal(secret.display, 'https://h/v1/chat/completions');
    assert.equal(secret.path, '/v1/chat/completions?key=s3cret');
    assert.equal(secret.basicAuth, `Basic ${Buffer.from('user:s3cret').toString('base64')}`);
  });

  it('refuses what is not an http(s) URL with exit code 2', () => {
    for (const url of ['not a url', 'ftp://h/x']) {
      assert.throws(
        () => resolveEndpoint(url),
        (error: unknown) => error instanceof LlmopsError && error.exitCode === 2,
      );
    }
  });
});

function sample(overrides: Partial<RequestSample>): RequestSample {
  return {
    startMs: 0,
    scheduledMs: 0,
    endMs: 1000,
    ok: true,
    status: 200,
    ttftMs: 100,
    itlGapsMs: [20, 20, 20],
    outputTokens: 4,
    tokenSource: 'stream',
    promptTokens: null,
    ...overrides,
  };
}

describe('SLOs', () => {
  it('parses units and refuses nonsense', () => {
    assert.deepEqual(parseSlo('ttft=500ms,itl=0.1s,tps=11,latency=30s'), {
      ttftMs: 500,
      itlMs: 100,
      tps: 11,
      latencyMs: 30_000,
    });
    assert.deepEqual(parseSlo('ttft=250'), { ttftMs: 250 });
    for (const bad of ['ttft', 'speed=3', 'tps=11ms', ''])
      assert.throws(() => parseSlo(bad), /Expected|tokens per second/);
  });

  it('mean ITL and TPS per request follow DESIGN.md (after the first token), and each SLO can fail a request', () => {
    assert.deepEqual(requestRates(sample({})), { meanItlMs: 20, tps: 50 });
    // 4 tokens by usage but arriving in 2 events: the time between first and last token spreads over 3 gaps.
    assert.deepEqual(requestRates(sample({ itlGapsMs: [60], outputTokens: 4 })), { meanItlMs: 20, tps: 50 });
    assert.equal(meetsSlo(sample({}), { ttftMs: 100, itlMs: 20, tps: 50, latencyMs: 1000 }), true);
    assert.equal(meetsSlo(sample({}), { ttftMs: 99 }), false);
    assert.equal(meetsSlo(sample({}), { itlMs: 19 }), false);
    assert.equal(meetsSlo(sample({}), { tps: 51 }), false);
    assert.equal(meetsSlo(sample({}), { latencyMs: 999 }), false);
    assert.equal(meetsSlo(sample({ ok: false, error: 'http_500' }), { latencyMs: 1e9 }), false);
  });
});

function run(
  load: number,
  rps: number,
  ttftP50: number,
  latencyP50: number,
  metSlo: boolean | null = null,
): EndpointRun {
  const summary = (p50: number) => ({
    count: 10,
    p50,
    p90: p50,
    p95: p50,
    p99: p50,
    mean: p50,
    max: p50,
    histogram: '',
  });
  return {
    concurrency: load,
    requests: 100,
    errors: 0,
    errorsByKind: {},
    durationS: 10,
    requestsPerSecond: rps,
    outputTokensPerSecond: rps * 100,
    ttftMs: summary(ttftP50),
    itlMs: summary(10),
    tpsPerRequest: summary(50),
    latencyMs: summary(latencyP50),
    goodput: null,
    sloAttainment: null,
    metSlo,
    outputTokens: 10_000,
    promptTokens: null,
    tokenSource: 'usage',
    warmup: { durationS: 1, requests: 5 },
    client: { cpuMsPerRequest: 0.1, eventLoopDelayMs: { p50: 0, p99: 0, max: 0 } },
    timeline: [],
  };
}

describe('histograms', () => {
  it('a decoded histogram takes values beyond its own range when merged into', () => {
    const small = new Recorder();
    small.record(1);
    const large = new Recorder();
    large.record(60_000);
    const merged = Recorder.decode(small.encode()).merge(Recorder.decode(large.encode()));
    assert.deepEqual([merged.count, merged.percentile(100) >= 59_900], [2, true]);
  });
});

describe('saturation', () => {
  it('the knee is the last step before throughput stalls while TTFT or latency grows sharply', () => {
    const knee = findKnee([run(1, 10, 50, 500), run(8, 70, 55, 560), run(32, 75, 400, 2000), run(64, 74, 900, 4000)]);
    assert.equal(knee?.concurrency, 8);
    assert.equal(knee?.saturated, true);
    assert.match(knee.reason, /concurrency 32.*TTFT p50/);
  });

  it('steps are taken in order of load, whatever order they ran in; no knee when throughput keeps rising', () => {
    assert.equal(findKnee([run(32, 75, 400, 2000), run(1, 10, 50, 500), run(8, 70, 55, 560)])?.index, 2);
    const rising = findKnee([run(1, 10, 50, 500), run(8, 70, 80, 600)]);
    assert.deepEqual([rising?.concurrency, rising?.saturated], [8, false]);
    assert.equal(findKnee([run(1, 10, 50, 500)]), null);
  });

  it('capacity is the highest throughput among steps that met the SLO', () => {
    const runs = [run(1, 10, 50, 500, true), run(8, 70, 55, 560, true), run(32, 75, 400, 2000, false)];
    assert.deepEqual(findCapacity(runs, { ttftMs: 100 }), {
      index: 1,
      concurrency: 8,
      requestsPerSecond: 70,
      outputTokensPerSecond: 7000,
      slo: { ttftMs: 100 },
    });
    assert.equal(
      findCapacity(
        runs.map((r) => ({ ...r, metSlo: false })),
        { ttftMs: 1 },
      ),
      null,
    );
    assert.equal(findCapacity(runs, null), null);
  });
});

describe('prompts', () => {
  it('synthetic prompts are cut to exact token counts by the model tokenizer, distinct and seeded', async () => {
    const counter = await loadTokenCounter(await ensureTinyModel());
    const prompts = syntheticPrompts({ count: 20, mean: 64, stddev: 0, counter });
    for (const prompt of prompts) assert.equal(counter.count(prompt.text), 64);
    assert.equal(new Set(prompts.map((p) => p.text)).size, 20);
    assert.deepEqual(syntheticPrompts({ count: 20, mean: 64, stddev: 0, counter }), prompts);
    const spread = syntheticPrompts({ count: 200, mean: 64, stddev: 16, counter }).map((p) => counter.count(p.text));
    const mean = spread.reduce((a, b) => a + b, 0) / spread.length;
    assert.ok(Math.abs(mean - 64) < 4, `mean ${mean}`);
    assert.ok(Math.max(...spread) - Math.min(...spread) > 32, 'lengths spread');
  });

  it('without a tokenizer the length is estimated at ~4 characters per token', () => {
    const [prompt] = syntheticPrompts({ count: 1, mean: 100, stddev: 0, counter: approximateTokenCounter });
    assert.ok(prompt!.text.length > 350 && prompt!.text.length <= 400, `${prompt!.text.length} characters`);
  });

  it('datasets: plain prompts, chat messages, ShareGPT conversations (first human turn), per-line max_tokens; bad lines named', async () => {
    const dir = await tempDir('llmops-dataset-');
    const file = path.join(dir, 'd.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify({ prompt: 'one', max_tokens: 5 }),
        '',
        JSON.stringify({
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'two' },
          ],
        }),
        JSON.stringify({
          conversations: [
            { from: 'gpt', value: 'hello' },
            { from: 'human', value: 'three' },
          ],
        }),
        JSON.stringify({ conversations: [{ from: 'gpt', value: 'only the model' }] }),
      ].join('\n'),
    );
    const prompts = await datasetPrompts(file);
    assert.deepEqual(
      prompts.map((p) => [p.text, p.maxTokens, p.messages?.length]),
      [
        ['one', 5, undefined],
        ['be brief\ntwo', undefined, 2],
        ['three', undefined, undefined],
      ],
    );
    const array = path.join(dir, 'sharegpt.json');
    await writeFile(array, JSON.stringify([{ conversations: [{ from: 'human', value: 'q' }] }]));
    assert.equal((await datasetPrompts(array))[0]!.text, 'q');
    await writeFile(file, `${JSON.stringify({ prompt: 'ok' })}\n{oops\n`);
    await assert.rejects(
      datasetPrompts(file),
      (error: unknown) => error instanceof LlmopsError && error.exitCode === 2 && /line 2/.test(error.message),
    );
    await writeFile(file, `${JSON.stringify({ question: 'x' })}\n`);
    await assert.rejects(datasetPrompts(file), /line 1 has no `prompt`/);
  });
});
