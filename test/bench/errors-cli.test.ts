import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { llmops } from './cli.js';
import { mlpModel } from './onnx-writer.js';
import { tempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await tempDir('llmops-bench-errors-');
  await writeFile(path.join(dir, 'mlp.onnx'), mlpModel());
  await writeFile(path.join(dir, 'notes.txt'), 'not a model');
  await writeFile(path.join(dir, 'fake.onnx'), 'this is text, not protobuf');
});

/** Exit 2 with exactly one line on stderr and no stack trace. */
async function expectUsageError(args: string[], pattern: RegExp): Promise<void> {
  const run = await llmops(['bench', ...args], { cwd: dir });
  assert.equal(run.code, 2, `exit ${run.code}: ${run.stderr}`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
  assert.match(lines[0]!, pattern);
  assert.equal(run.stdout, '');
}

describe('bench: bad input is exit 2 with one line', () => {
  it('a file that is not a model', () =>
    expectUsageError(
      ['notes.txt'],
      /notes\.txt is not a model: expected a model directory, a \.onnx file or a TensorRT \.plan/,
    ));
  it('a .onnx file that is not ONNX', () => expectUsageError(['fake.onnx'], /fake\.onnx is not an ONNX model/));
  it('a directory without a model', () => expectUsageError(['.'], /is not a model/));
  it('a path that does not exist', () => expectUsageError(['missing'], /bench target missing does not exist/));
  it('an unknown provider', () =>
    expectUsageError(
      ['mlp.onnx', '--provider', 'tpu'],
      /argument 'tpu' is invalid\. Allowed choices are cpu, cuda, tensorrt/,
    ));
  it('the CUDA provider when onnxruntime-node was installed without it', async (t) => {
    const { existsSync } = await import('node:fs');
    const { createRequire } = await import('node:module');
    const binDir = path.join(
      path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')),
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
    );
    if (existsSync(path.join(binDir, 'libonnxruntime_providers_cuda.so')))
      return t.skip('onnxruntime-node here has the CUDA provider');
    await expectUsageError(
      ['mlp.onnx', '--provider', 'cuda', '--shape', 'batch=1'],
      /the cuda execution provider is not installed .*--onnxruntime-node-install=cuda12/,
    );
  });
  it('a malformed --shape', () =>
    expectUsageError(['mlp.onnx', '--shape', 'batch:8'], /malformed --shape `batch:8`: expected NAME=DIM/));
  it('a symbolic dimension without --shape', () =>
    expectUsageError(['mlp.onnx'], /symbolic dimensions without a value: batch \(pass --shape batch=N\)/));
  it('--iterations with --duration', () =>
    expectUsageError(['mlp.onnx', '--iterations', '3', '--duration', '2s'], /cannot be used with option '--duration/));
  it('a baseline that does not exist', () =>
    expectUsageError(
      ['mlp.onnx', '--shape', 'batch=1', '--iterations', '2', '--baseline', 'nope.json'],
      /baseline nope\.json cannot be read/,
    ));
});
