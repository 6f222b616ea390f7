import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { deploy } from '../../src/deploy/index.js';
import { exampleConfig, loadExample, repoRoot } from './helpers.js';

/** Goldens live in the source tree; `UPDATE_GOLDEN=1 npm test` rewrites them after an intended change. */
const GOLDEN_DIR = path.join(repoRoot, 'test/deploy/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const CASES: { file: string; raw: Record<string, unknown>; emit?: ('nap' | 'compile-job')[] }[] = [
  {
    file: 'init-keda.yaml',
    raw: exampleConfig({
      strategy: 'init',
      engine: 'keda',
      extra: { compileJob: { image: 'ghcr.io/acme/llmops:0.1.0' } },
    }),
    emit: ['compile-job'],
  },
  {
    file: 'volume-hpa-gpu-utilization.yaml',
    raw: exampleConfig({ strategy: 'volume', engine: 'hpa', metric: 'gpu-utilization' }),
  },
  { file: 'gcsfuse-none.yaml', raw: exampleConfig({ strategy: 'gcsfuse', engine: 'none' }) },
  {
    file: 'baked-keda-vllm-eks.yaml',
    raw: {
      ...exampleConfig({ strategy: 'baked', metric: 'kv-cache', extra: { provider: 'eks' } }),
      serve: { image: 'ghcr.io/acme/vllm-server:0.11.0', template: 'vllm' },
    },
  },
];

for (const c of CASES) {
  test(`golden manifests: ${c.file}`, async () => {
    const result = await deploy({ config: loadExample(c.raw), emit: c.emit ?? [], env: {} });
    const golden = path.join(GOLDEN_DIR, c.file);
    if (UPDATE) {
      await mkdir(GOLDEN_DIR, { recursive: true });
      await writeFile(golden, result.yaml);
    }
    const expected = await readFile(golden, 'utf8').catch(() => null);
    assert.ok(expected !== null, `missing golden ${golden}: run UPDATE_GOLDEN=1 npm test`);
    assert.equal(result.yaml, expected, `${c.file} changed: review the diff, then UPDATE_GOLDEN=1 npm test`);
  });
}
