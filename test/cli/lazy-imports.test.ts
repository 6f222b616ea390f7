import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { cliPath, repoRoot } from '../helpers/cli.js';

const HEAVY = [
  'zod',
  'onnxruntime-node',
  'undici',
  'ora',
  'yaml',
  '@huggingface/hub',
  '@huggingface/tokenizers',
  'execa',
  'hdr-histogram-js',
];

function packagesLoaded(args: string[]): string[] {
  const result = spawnSync(
    process.execPath,
    ['--import', path.join(repoRoot, 'scripts', 'import-trace.mjs'), cliPath, ...args],
    { encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stderr);
  return result.stderr
    .split('\n')
    .filter((line) => line.startsWith('[import] '))
    .map((line) => line.slice('[import] '.length));
}

describe('startup stays light', () => {
  for (const args of [['--version'], ['--help'], ['generate', '--help']]) {
    it(`llmops ${args.join(' ')} loads none of the heavy packages`, () => {
      const loaded = packagesLoaded(args);
      assert.ok(loaded.includes('commander'), `trace works: ${loaded.join(', ')}`);
      for (const heavy of HEAVY)
        assert.ok(
          !loaded.some((name) => name === heavy || name.startsWith(`${heavy}/`)),
          `${heavy} was loaded by ${args.join(' ')}`,
        );
    });
  }
});
