import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import { parseShapes, resolveInputSpecs } from '../../src/bench/engine/inputs.js';
import { LlmopsError } from '../../src/errors.js';

const meta = (name: string, shape: Array<number | string>, type = 'float32') =>
  ({ name, isTensor: true, type, shape }) as unknown as Ort.InferenceSession.ValueMetadata;

describe('--shape parsing', () => {
  it('reads symbolic dimensions and whole input shapes', () => {
    assert.deepEqual(parseShapes(['batch=8', 'pixel_values=1x3x224x224']), {
      batch: 8,
      pixel_values: [1, 3, 224, 224],
    });
  });

  for (const bad of ['batch', 'batch=', '=8', 'batch=x8', 'batch=8x', 'batch=-1', 'batch=0', 'batch=1.5', 'a=1xx2']) {
    it(`rejects \`${bad}\` as a usage error naming the expected form`, () => {
      assert.throws(
        () => parseShapes([bad]),
        (error: unknown) =>
          error instanceof LlmopsError &&
          error.exitCode === 2 &&
          error.message.includes(bad) &&
          error.message.includes('NAME=DIM'),
      );
    });
  }
});

describe('input shapes from session metadata', () => {
  it('fills symbolic dimensions by name and keeps fixed ones', () => {
    const specs = resolveInputSpecs(
      [meta('x', ['batch', 16]), meta('mask', ['batch', 'seq'], 'int64')],
      { batch: 8, seq: 5 },
      undefined,
      'm.onnx',
    );
    assert.deepEqual(
      specs.map((spec) => [spec.name, spec.dims, spec.type]),
      [
        ['x', [8, 16], 'float32'],
        ['mask', [8, 5], 'int64'],
      ],
    );
  });

  it('uses --batch for a leading batch dimension that --shape does not set', () => {
    const [spec] = resolveInputSpecs([meta('x', ['batch_size', 3])], {}, 4, 'm.onnx');
    assert.deepEqual(spec!.dims, [4, 3]);
  });

  it('takes a whole input shape and checks its rank', () => {
    const [spec] = resolveInputSpecs([meta('img', ['n', 3, 'h', 'w'])], { img: [2, 3, 32, 32] }, undefined, 'm.onnx');
    assert.deepEqual(spec!.dims, [2, 3, 32, 32]);
    assert.throws(
      () => resolveInputSpecs([meta('img', ['n', 3, 'h', 'w'])], { img: [2, 3] }, undefined, 'm.onnx'),
      /has 2 dimensions but input img has 4/,
    );
  });

  it('names every symbolic dimension left without a value, with the flags to pass', () => {
    assert.throws(
      () => resolveInputSpecs([meta('x', ['batch', 'seq'])], {}, undefined, 'm.onnx'),
      (error: unknown) =>
        error instanceof LlmopsError &&
        error.exitCode === 2 &&
        /batch, seq/.test(error.message) &&
        error.hint === 'pass --shape batch=N --shape seq=N',
    );
  });
});
