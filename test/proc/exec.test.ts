import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InterruptedError } from '../../src/errors.js';
import { runPlan } from '../../src/proc/exec.js';

/** A child that says when it runs, then waits a minute: a test aborts it on `ready`, so the abort finds it running. */
const sleeper = {
  name: 'sleep',
  file: process.execPath,
  argv: ['-e', "process.stdout.write('ready'); setTimeout(() => {}, 60_000)"],
};

test('on abort, the cleanup runs before the child is killed, and the run rejects as interrupted', async () => {
  const controller = new AbortController();
  const events: string[] = [];
  const started = Date.now();
  const run = runPlan(sleeper, {
    signal: controller.signal,
    onStdout: () => controller.abort(),
    onAbort: async () => {
      events.push('cleanup');
      await new Promise((resolve) => setTimeout(resolve, 50));
      events.push('cleanup done');
    },
  });
  await assert.rejects(run, InterruptedError);
  assert.deepEqual(events, ['cleanup', 'cleanup done']);
  assert.ok(Date.now() - started < 30_000, 'the child was killed, not waited for');
});

test('a failing cleanup still kills the child and leaves no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const controller = new AbortController();
    const started = Date.now();
    const run = runPlan(sleeper, {
      signal: controller.signal,
      onStdout: () => controller.abort(),
      onAbort: () => Promise.reject(new Error('docker rm failed')),
    });
    await assert.rejects(run, InterruptedError);
    assert.ok(Date.now() - started < 30_000, 'the child was killed, not waited for');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
