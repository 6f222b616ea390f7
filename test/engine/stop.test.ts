import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StopStringMatcher } from '../../src/engine/stop.js';

function stream(stops: string[], deltas: string[]): { emitted: string[]; final: string; stopped: boolean } {
  const matcher = new StopStringMatcher(stops);
  const emitted: string[] = [];
  let stopped = false;
  for (const delta of deltas) {
    const result = matcher.push(delta);
    if (result.emit) emitted.push(result.emit);
    if (result.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) {
    const rest = matcher.flush();
    if (rest) emitted.push(rest);
  }
  return { emitted, final: matcher.final, stopped };
}

describe('StopStringMatcher', () => {
  it('passes text through when there are no stop strings', () => {
    assert.deepEqual(stream([], ['a', 'b']), { emitted: ['a', 'b'], final: 'ab', stopped: false });
  });

  it('stops at a stop string split across deltas and never emits part of it', () => {
    const result = stream(['\n\n'], ['Hello', '\n', '\nWorld']);
    assert.equal(result.stopped, true);
    assert.equal(result.final, 'Hello');
    assert.equal(result.emitted.join(''), 'Hello');
  });

  it('releases held-back text when it turns out not to be a stop string', () => {
    const result = stream(['END'], ['the E', 'ND', 'X']);
    assert.equal(result.stopped, true);
    assert.equal(result.final, 'the ');
    const passing = stream(['END'], ['the E', 'x']);
    assert.equal(passing.stopped, false);
    assert.equal(passing.emitted.join(''), 'the Ex');
    assert.deepEqual(passing.emitted, ['the ', 'Ex']);
  });

  it('stops at the earliest of several stop strings', () => {
    const result = stream(['c', 'b'], ['abcd']);
    assert.equal(result.final, 'a');
  });

  it('flushes a held-back prefix at the end of generation', () => {
    const result = stream(['STOP'], ['abc ST']);
    assert.equal(result.stopped, false);
    assert.equal(result.emitted.join(''), 'abc ST');
  });
});
