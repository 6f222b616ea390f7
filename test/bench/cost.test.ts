import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costPerMillionTokens } from '../../src/bench/cost.js';

describe('cost per million output tokens', () => {
  it('is price ÷ (tokens/s × 3600) × 1e6', () => {
    // $2.50/h at 1000 tokens/s: 3.6M tokens an hour → $0.6944 per million.
    assert.equal(costPerMillionTokens(2.5, 1000), 0.6944);
    assert.equal(costPerMillionTokens(3.6, 1), 1000);
  });

  it('is null without a price or without throughput', () => {
    assert.equal(costPerMillionTokens(undefined, 100), null);
    assert.equal(costPerMillionTokens(null, 100), null);
    assert.equal(costPerMillionTokens(2, 0), null);
    assert.equal(costPerMillionTokens(2, Number.NaN), null);
  });

  it('is zero on free hardware', () => {
    assert.equal(costPerMillionTokens(0, 50), 0);
  });
});
