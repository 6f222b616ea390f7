import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gpuMemoryOf, gpuMemorySampler, parseComputeApps, parseGpuQuery } from '../../src/proc/nvidia-smi.js';
import { gpuTypeFromName } from '../../src/deploy/facts.js';
import { repoRoot } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

/** What a real nvidia-smi printed for our argv on an H200 (see the fixture's README). */
const recorded = (file: string) =>
  readFile(path.join(repoRoot, 'test/fixtures/nvidia-smi/h200-driver-580', file), 'utf8');

describe('nvidia-smi', () => {
  it('sums used GPU memory per pid and skips unreadable rows', () => {
    const usage = parseComputeApps('1234, 512\n1234, 256\n99, [N/A]\n\n4321, 1024\n');
    assert.deepEqual(
      [...usage.entries()],
      [
        [1234, 768],
        [4321, 1024],
      ],
    );
  });

  it('parses what a real nvidia-smi printed on an H200, and maps the name to a deploy GPU type', async () => {
    const [gpu, ...rest] = parseGpuQuery(await recorded('query-gpu.csv'));
    assert.equal(rest.length, 0);
    assert.deepEqual(gpu, { name: 'NVIDIA H200', computeCapability: '9.0', driver: '580.159.04', memoryMiB: 143771 });
    assert.equal(gpuTypeFromName(gpu.name), 'nvidia-h200-141gb');
    assert.deepEqual([...parseComputeApps(await recorded('compute-apps.csv')).entries()], [[498, 4614]]);
  });

  it('reads this process from a fake nvidia-smi on PATH, and is null when none is installed', async () => {
    const bin = await tempDir('llmops-smi-');
    await writeFile(path.join(bin, 'nvidia-smi'), `#!/bin/sh\necho "${process.pid}, 2048"\necho "1, 10"\n`);
    await chmod(path.join(bin, 'nvidia-smi'), 0o755);
    const saved = process.env.PATH;
    try {
      process.env.PATH = `${bin}${path.delimiter}${saved}`;
      assert.equal(await gpuMemoryOf(process.pid), 2048);
      const sampler = gpuMemorySampler(process.pid, 10);
      sampler.start();
      assert.equal(await sampler.stop(), 2048);
      process.env.PATH = path.join(bin, 'empty');
      assert.equal(await gpuMemoryOf(process.pid), null);
    } finally {
      process.env.PATH = saved;
    }
  });
});
