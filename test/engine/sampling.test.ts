import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LlmopsError } from '../../src/errors.js';
import {
  argmax,
  bestIds,
  createRandom,
  exp2OfNonPositive,
  sampleToken,
  TokenPenalties,
} from '../../src/engine/sampling.js';

describe('sampling', () => {
  const logits = new Float32Array([0.1, 2.0, 1.9, -1, 0.5]);

  it('temperature 0 is argmax whatever the other settings', () => {
    assert.equal(argmax(logits), 1);
    assert.equal(sampleToken(logits, { temperature: 0, topK: 3, topP: 0.5 }, createRandom(1)), 1);
  });

  it('the same seed gives the same tokens; different seeds differ', () => {
    const draw = (seed: number) => {
      const random = createRandom(seed);
      return Array.from({ length: 50 }, () => sampleToken(logits, { temperature: 1.5 }, random));
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });

  it('top-k 1 is greedy and top-k 2 never leaves the two best tokens', () => {
    const random = createRandom(3);
    for (let i = 0; i < 200; i += 1) {
      assert.equal(sampleToken(logits, { temperature: 5, topK: 1 }, random), 1);
      assert.ok([1, 2].includes(sampleToken(logits, { temperature: 5, topK: 2 }, random)));
    }
  });

  it('top-p keeps the smallest set whose mass reaches p', () => {
    const peaked = new Float32Array([5, 4.9, -10, -10]);
    const random = createRandom(11);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i += 1) seen.add(sampleToken(peaked, { temperature: 1, topP: 0.9 }, random));
    assert.deepEqual([...seen].sort(), [0, 1]);
  });

  it('sampling frequencies follow the softmax', () => {
    const two = new Float32Array([Math.log(3), 0]);
    const random = createRandom(5);
    let first = 0;
    const draws = 20_000;
    for (let i = 0; i < draws; i += 1) if (sampleToken(two, { temperature: 1 }, random) === 0) first += 1;
    assert.ok(Math.abs(first / draws - 0.75) < 0.02, `p(first)=${first / draws}`);
  });

  it('logit bias -100 bans a token outright, a positive one lifts it, and the batch row is left as it was', () => {
    const row = new Float32Array([0.1, 200, 1.9, -1, 0.5]);
    const random = createRandom(2);
    // A logit 200 above the rest would survive a bias of -100 added to it: -100 is a ban, as OpenAI documents.
    assert.equal(sampleToken(row, { logitBias: new Map([[1, -100]]) }, random), 2);
    assert.equal(sampleToken(row, { logitBias: new Map([[3, 250]]) }, random), 3);
    for (let i = 0; i < 200; i += 1)
      assert.notEqual(sampleToken(row, { temperature: 2, logitBias: new Map([[1, -100]]) }, random), 1);
    assert.deepEqual([...row], [...new Float32Array([0.1, 200, 1.9, -1, 0.5])]);
  });

  it("presence and frequency penalties lower generated tokens' logits, once and per time, as vLLM applies them", () => {
    const penalties = TokenPenalties.of({ presencePenalty: 0.5, frequencyPenalty: 0.25 }, [4, 4, 4])!;
    for (const token of [2, 2, 0]) penalties.record(token);
    const row = new Float32Array([1, 2, 3, 4, 5]);
    penalties.apply(row);
    // Token 2 twice: 3 - 0.5 - 2 × 0.25; token 0 once: 1 - 0.5 - 0.25; the prompt's token 4 untouched.
    assert.deepEqual([...row], [0.25, 2, 2, 4, 5]);
  });

  it('the repetition penalty divides positive and multiplies negative logits of prompt and generated tokens', () => {
    const penalties = TokenPenalties.of({ repetitionPenalty: 2 }, [0, 1])!;
    penalties.record(3);
    penalties.record(3);
    const row = new Float32Array([4, -1, 6, 8, -2]);
    penalties.apply(row);
    // Once per token, however often it appeared.
    assert.deepEqual([...row], [2, -2, 6, 4, -2]);
  });

  it('penalties change the greedy choice, come after the bias, and leave the batch row as it was', () => {
    const row = new Float32Array([0.1, 2.0, 1.9, -1, 0.5]);
    const penalties = TokenPenalties.of({ frequencyPenalty: 0.2 }, [])!;
    assert.equal(sampleToken(row, {}, createRandom(1), penalties), 1);
    penalties.record(1);
    assert.equal(sampleToken(row, {}, createRandom(1), penalties), 2);
    // A banned token stays banned under a negative penalty, which would otherwise lift it.
    const lift = TokenPenalties.of({ presencePenalty: -2 }, [])!;
    lift.record(1);
    assert.equal(sampleToken(row, { logitBias: new Map([[1, -100]]) }, createRandom(1), lift), 2);
    assert.equal(sampleToken(row, {}, createRandom(1), lift), 1);
    assert.deepEqual([...row], [...new Float32Array([0.1, 2.0, 1.9, -1, 0.5])]);
  });

  it('no penalties at their defaults, and a clear error for a repetition penalty that is not positive', () => {
    assert.equal(TokenPenalties.of({ presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 }, [1]), null);
    for (const repetitionPenalty of [0, -1, Number.NaN])
      assert.throws(
        () => TokenPenalties.of({ repetitionPenalty }, []),
        (error: unknown) =>
          error instanceof LlmopsError && /repetitionPenalty must be a positive number/.test(error.message),
      );
    assert.throws(() => TokenPenalties.of({ presencePenalty: Number.NaN }, []), /presencePenalty must be a number/);
  });

  it("the top k and the nucleus are exactly a full sort's, at vocabulary sizes where sorting it all is slow", () => {
    const random = createRandom(9);
    for (const [size, temperature, step] of [
      [50_000, 1, 0],
      [32_000, 0.7, 0.25],
      [128_256, 0.05, 0],
      [2_000, 3, 1],
    ] as const) {
      // Logits shaped like a model's (a long normal tail under a few strong ids), some quantised to make ties, some banned.
      const logits = new Float32Array(size);
      for (let id = 0; id < size; id += 1) {
        const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        logits[id] = step ? Math.round((3 * normal) / step) * step : 3 * normal;
      }
      for (let i = 0; i < 20; i += 1) {
        const id = Math.floor(random() * size);
        logits[id] = logits[id]! + 14 - i / 2;
      }
      for (let i = 0; i < 50; i += 1) logits[Math.floor(random() * size)] = -Infinity;
      const max = logits[argmax(logits)]!;
      const weights = Float64Array.from(logits, (logit) => Math.exp((logit - max) / temperature));
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      const sorted = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
      const asSet = (ids: number[]) => [...ids].sort((a, b) => a - b);

      for (const k of [1, 40, 1000]) {
        assert.deepEqual(
          asSet(bestIds(logits, weights, max, temperature, k, 0)),
          asSet(sorted.slice(0, k)),
          `top-${k}`,
        );
      }
      for (const topP of [0.5, 0.9, 0.95, 0.999]) {
        let held = 0;
        const nucleus = sorted.slice(0, sorted.findIndex((id) => (held += weights[id]!) >= topP * total) + 1);
        const ids = bestIds(logits, weights, max, temperature, 1, topP * total);
        assert.deepEqual(
          asSet(ids),
          asSet(nucleus),
          `top-p ${topP} at temperature ${temperature}: ${ids.length} vs ${nucleus.length} ids`,
        );
      }
    }
  });

  it('sampling from the nucleus of a large vocabulary follows the softmax renormalised over it', () => {
    // 5,000 ids: four strong ones (the nucleus at 0.9) over a flat tail worth ~4% of the mass.
    const logits = new Float32Array(5_000).fill(-9);
    logits.set([2, 1, 1, 0.5], 1234);
    const weights = Array.from(logits, (logit) => Math.exp(logit));
    const nucleus = [1234, 1235, 1236, 1237];
    const nucleusMass = nucleus.reduce((sum, id) => sum + weights[id]!, 0);
    const random = createRandom(4);
    const seen = new Map<number, number>();
    const draws = 20_000;
    for (let i = 0; i < draws; i += 1) {
      const id = sampleToken(logits, { temperature: 1, topP: 0.9 }, random);
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), nucleus);
    for (const id of nucleus) {
      const expected = weights[id]! / nucleusMass;
      assert.ok(
        Math.abs(seen.get(id)! / draws - expected) < 0.015,
        `p(${id}) = ${seen.get(id)! / draws}, expected ${expected}`,
      );
    }
  });

  it("the weights' 2^x is within float32's epsilon of Math.pow (where doubles are normal), and 0 below the smallest double", () => {
    let worst = 0;
    for (let x = 0; x > -1020; x -= 0.0137) worst = Math.max(worst, Math.abs(exp2OfNonPositive(x) / 2 ** x - 1));
    assert.ok(worst < 1e-8, `worst relative error ${worst}`);
    assert.equal(exp2OfNonPositive(0), 1);
    assert.equal(exp2OfNonPositive(-3), 0.125);
    assert.equal(exp2OfNonPositive(-1080), 0);
    assert.equal(exp2OfNonPositive(-Infinity), 0);
    assert.equal(exp2OfNonPositive(NaN), 0);
  });
});
