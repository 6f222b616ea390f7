import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argmax, createRandom, sampleToken } from '../../src/engine/sampling.js';

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
});
