import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { precedence } from '../../src/commands/precedence.js';

describe('precedence: flags > environment and llmops.yaml > defaults', () => {
  it('takes each key from the first layer that defines it, so a flag wins and an absent flag does not mask the file', () => {
    const flags = { backend: 'tensorrt', precision: undefined };
    const file = { backend: 'optimum', precision: 'fp16', task: 'text-generation' };
    const defaults = { backend: 'ort', opset: 17 };
    assert.deepEqual(precedence<Record<string, unknown>>(flags, file, defaults), {
      backend: 'tensorrt',
      precision: 'fp16',
      task: 'text-generation',
      opset: 17,
    });
  });

  it('keeps falsy values that were given (0, false, empty string): only undefined means "not given"', () => {
    assert.deepEqual(
      precedence<Record<string, unknown>>({ topK: 0, force: false, stop: '' }, { topK: 40, force: true, stop: 'x' }),
      {
        topK: 0,
        force: false,
        stop: '',
      },
    );
  });

  it('skips a missing layer (a config section that is absent)', () => {
    assert.deepEqual(precedence<{ threads: number }>(undefined, { threads: 4 }), { threads: 4 });
  });
});
