import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';

import path from 'node:path';
import { after, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { deploy } from '../../src/deploy/index.js';
import { exampleConfig, loadExample, officialSchemas, SCHEMAS_MISSING, tempDir } from './helpers.js';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p)) ?? null;
const work = await tempDir();
after(() => rm(work, { recursive: true, force: true }));

/** What `kubectl apply -f DIR` reads: the .yaml/.yml/.json files directly in DIR (it does not recurse). */
async function applyFiles(dir: string, skip: string[] = []): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && /\.(ya?ml|json)$/.test(e.name) && !skip.includes(e.name))
    .map((e) => e.name)
    .sort();
}

/** Every document of every file is a Kubernetes object; offline, kustomize (no cluster needed) builds them all. */
async function assertApplicable(dir: string, skip: string[] = []): Promise<void> {
  const files = await applyFiles(dir, skip);
  assert.ok(files.length > 0, `${dir} has files`);
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(path.join(dir, file), 'utf8'))) {
      const o = doc.toJS() as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
      assert.ok(
        typeof o.apiVersion === 'string' && typeof o.kind === 'string' && typeof o.metadata?.name === 'string',
        `${file} is not a Kubernetes object`,
      );
    }
  }
  if (KUBECTL) {
    const scratch = await tempDir('llmops-apply-check-');
    try {
      for (const file of files) await copyFile(path.join(dir, file), path.join(scratch, file));
      await writeFile(
        path.join(scratch, 'kustomization.yaml'),
        `resources:\n${files.map((f) => `- ${f}`).join('\n')}\n`,
      );
      const built = spawnSync(KUBECTL, ['kustomize', scratch], { encoding: 'utf8' });
      assert.equal(built.status, 0, `kubectl kustomize of the files in ${dir}: ${built.stderr}`);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

const CASES: { name: string; raw: () => Record<string, unknown> }[] = [];
for (const strategy of ['baked', 'volume', 'init', 'gcsfuse']) {
  for (const engine of ['keda', 'hpa', 'none'])
    CASES.push({ name: `${strategy} × ${engine}`, raw: () => exampleConfig({ strategy, engine }) });
}
for (const runtime of ['seldon-v1', 'kserve']) {
  for (const engine of ['keda', 'hpa']) {
    CASES.push({
      name: `graph ${runtime} × ${engine}`,
      raw: () =>
        exampleConfig({
          strategy: 'baked',
          engine,
          extra: {
            graph: {
              runtime,
              root: {
                name: 'encoder',
                type: 'TRANSFORMER',
                image: 'ghcr.io/acme/encoder:2.0.1',
                children: [
                  { name: 'llm', type: 'MODEL', image: 'ghcr.io/acme/llm:1.0.0', template: 'vllm', gpu: { count: 1 } },
                ],
              },
            },
          },
        }),
    });
  }
}

for (const c of CASES) {
  test(
    `${c.name}: kubectl apply -f OUT (and -f OUT/base) reads only Kubernetes objects; nap and adapter rules are under extras/`,
    { skip: SCHEMAS_MISSING },
    async () => {
      const config = loadExample(c.raw());
      const schemas = await officialSchemas();
      const slug = c.name.replace(/\W+/g, '-');
      const flat = path.join(work, `${slug}-flat`);
      const result = await deploy({ config, out: flat, emit: ['nap'], schemas });
      await assertApplicable(flat);
      assert.ok(result.files?.includes('extras/nap.yaml'));
      if (config.deploy.autoscaling.engine === 'hpa' && config.deploy.graph?.runtime !== 'kserve')
        assert.ok(result.files?.includes('extras/prometheus-adapter-rules.yaml'));

      const kustomized = path.join(work, `${slug}-kustomize`);
      await deploy({ config, out: kustomized, kustomize: true, emit: ['nap'], schemas });
      assert.deepEqual(await applyFiles(kustomized), [], 'only directories at the top of a kustomize layout');
      await assertApplicable(path.join(kustomized, 'base'), ['kustomization.yaml']);
    },
  );
}

test(
  'kubectl is present for the offline apply check',
  { skip: KUBECTL ? false : 'kubectl not installed: the kustomize build of each --out directory was skipped' },
  () => {
    assert.ok(KUBECTL);
  },
);
