import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchLlm, promptIds, type BenchableLM } from '../../src/bench/engine/llm.js';
import { argmax } from '../../src/engine/sampling.js';

/** A stand-in decoder whose prefill and decode take known times, recording what it was asked to do. */
function scriptedLM(prefillMs: number, decodeMs: number) {
  const calls: Array<{ kind: 'prefill' | 'decode'; rows: number; width?: number; tokens?: number[] }> = [];
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  const lm: BenchableLM = {
    async prefill(rows) {
      calls.push({ kind: 'prefill', rows: rows.length, width: rows[0]!.length });
      busy(prefillMs);
      return { lastLogits: rows.map((_, r) => Float32Array.from({ length: 10 }, (_, i) => (i === r + 1 ? 1 : 0))) };
    },
    async prefillChunks(state, chunks) {
      calls.push({ kind: 'prefill', rows: chunks.length, width: chunks[0]!.length, tokens: chunks[0] });
      busy(prefillMs);
      return (
        state ?? {
          lastLogits: chunks.map((_, r) => Float32Array.from({ length: 10 }, (_, i) => (i === r + 1 ? 1 : 0))),
        }
      );
    },
    async decode(state, tokens) {
      calls.push({ kind: 'decode', rows: tokens.length, tokens: [...tokens] });
      busy(decodeMs);
      state.lastLogits = state.lastLogits.map(() => Float32Array.from({ length: 10 }, (_, i) => (i === 7 ? 1 : 0)));
    },
  };
  return { lm, calls };
}

describe('LLM phase measurements', () => {
  it('times prefill as TTFT and each decode step as TPOT, excluding warm-up', async () => {
    const { lm, calls } = scriptedLM(12, 3);
    const [result] = await benchLlm(lm, {
      batches: [2],
      promptTokens: [16],
      genTokens: 5,
      warmup: 1,
      iterations: 3,
      promptIds: (n) => Array.from({ length: n }, (_, i) => i + 1),
    });
    assert.ok(result);
    // 4 generations (1 warm-up + 3 measured), each 1 prefill + 4 decode steps.
    assert.equal(calls.filter((c) => c.kind === 'prefill').length, 4);
    assert.equal(calls.filter((c) => c.kind === 'decode').length, 16);
    assert.deepEqual(calls[0], { kind: 'prefill', rows: 2, width: 16 });
    // Greedy: the first decode feeds each row's argmax of the prefill logits.
    assert.deepEqual(calls[1]!.tokens, [1, 2]);
    assert.equal(result.iterations, 3);
    assert.equal(result.warmup.iterations, 1);
    assert.equal(result.stats.ttftMs.count, 3);
    assert.equal(result.stats.tpotMs.count, 12);
    assert.ok(result.ttftMs.p50 >= 12 && result.ttftMs.p50 < 12 * 2, `TTFT ${result.ttftMs.p50}`);
    assert.ok(result.tpotMs.p50 >= 3 && result.tpotMs.p50 < 3 * 2, `TPOT ${result.tpotMs.p50}`);
    assert.ok(Math.abs(result.e2eMs.mean - (result.ttftMs.mean + 4 * result.tpotMs.mean)) < 0.5);
    assert.equal(result.decodeTokensPerSecond, Math.round((1000 / result.tpotMs.mean) * 100) / 100);
    // 2 rows × 5 tokens per generation.
    assert.ok(Math.abs(result.throughputTokensPerSecond - (2 * 5) / (result.e2eMs.mean / 1000)) < 0.01);
    assert.ok(result.peakRssMb > 0);
    assert.equal(result.costPerMillionTokens, null);
  });

  it('with a chunk size, prefills each prompt in steps of that many tokens and times each step', async () => {
    const { lm, calls } = scriptedLM(4, 1);
    const [result] = await benchLlm(lm, {
      batches: [2],
      promptTokens: [10],
      genTokens: 2,
      prefillChunkTokens: 4,
      warmup: 0,
      iterations: 2,
      promptIds: (n) => Array.from({ length: n }, (_, i) => i + 1),
    });
    const prefills = calls.filter((c) => c.kind === 'prefill');
    // Per generation: chunks of 4, 4 and 2 tokens, in prompt order, each of both rows.
    assert.deepEqual(
      prefills.slice(0, 3).map((c) => [c.rows, c.width, c.tokens![0]]),
      [
        [2, 4, 1],
        [2, 4, 5],
        [2, 2, 9],
      ],
    );
    assert.equal(prefills.length, 6);
    assert.equal(result!.prefillSteps, 3);
    // A step is one chunk's time, not the whole prefill's (the busy waits stretch on a loaded machine, never shrink).
    assert.ok(result!.prefillStepMs.p50 >= 4, `step ${result!.prefillStepMs.p50}`);
    assert.ok(result!.prefillStepMs.p50 < result!.ttftMs.p50, `step ${result!.prefillStepMs.p50} vs TTFT`);
    assert.ok(result!.ttftMs.p50 >= 3 * 4, `TTFT ${result!.ttftMs.p50}`);
  });

  it('gives a cost per million tokens from the aggregate throughput', async () => {
    const { lm } = scriptedLM(1, 1);
    const [result] = await benchLlm(lm, {
      batches: [1],
      promptTokens: [4],
      genTokens: 3,
      warmup: 0,
      iterations: 2,
      gpuPricePerHour: 3.6,
      promptIds: (n) => new Array<number>(n).fill(5),
    });
    assert.equal(result!.costPerMillionTokens, Number((1e6 / result!.throughputTokensPerSecond / 1000).toPrecision(4)));
  });

  it('runs one configuration per batch × prompt length, in order', async () => {
    const { lm } = scriptedLM(0, 0);
    const results = await benchLlm(lm, {
      batches: [1, 4],
      promptTokens: [8, 32],
      genTokens: 2,
      warmup: 0,
      iterations: 1,
      promptIds: (n) => new Array<number>(n).fill(5),
    });
    assert.deepEqual(
      results.map((r) => [r.promptTokens, r.batch]),
      [
        [8, 1],
        [8, 4],
        [32, 1],
        [32, 4],
      ],
    );
  });

  it('stops between iterations when aborted', async () => {
    const { lm } = scriptedLM(2, 1);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      benchLlm(
        lm,
        {
          batches: [1],
          promptTokens: [4],
          genTokens: 2,
          warmup: 0,
          iterations: 5,
          promptIds: (n) => new Array<number>(n).fill(5),
        },
        { signal: controller.signal },
      ),
      /interrupted/,
    );
  });
});

describe('prompt ids', () => {
  it('repeats the tokenized text to the exact length', () => {
    const ids = promptIds(7, { vocabSize: 100, encode: () => [10, 11, 12] });
    assert.deepEqual(ids, [10, 11, 12, 10, 11, 12, 10]);
  });

  it('spreads synthetic ids over the vocabulary, above the special tokens', () => {
    const ids = promptIds(50, { vocabSize: 1000 });
    assert.equal(ids.length, 50);
    assert.ok(ids.every((id) => id >= 100 && id < 1000));
    assert.ok(new Set(ids).size > 40);
    assert.ok(promptIds(20, { vocabSize: 64 }).every((id) => id >= 16 && id < 64));
  });

  it('argmax picks the first largest logit', () => {
    assert.equal(argmax(Float32Array.from([0, 3, 1, 3])), 1);
  });
});
