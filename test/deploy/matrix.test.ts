import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { deploy } from '../../src/deploy/index.js';
import { lintObjects } from '../../src/deploy/lint/index.js';
import { checkApiServerRules } from '../../src/k8s/names.js';
import {
  exampleConfig,
  loadExample,
  officialSchemas,
  officialValidator,
  SCHEMAS_MISSING,
  SECRET_ENV,
  tempDir,
} from './helpers.js';

const STRATEGIES = ['baked', 'volume', 'init', 'gcsfuse'] as const;
const ENGINES = ['keda', 'hpa', 'none'] as const;
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p)) ?? null;

async function readTree(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(path.join(dir, prefix), { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) Object.assign(out, await readTree(dir, rel));
    else out[rel] = await readFile(path.join(dir, rel), 'utf8');
  }
  return out;
}

const work = await tempDir();
after(() => rm(work, { recursive: true, force: true }));

describe('every storage strategy × autoscaler engine', { skip: SCHEMAS_MISSING }, () => {
  for (const strategy of STRATEGIES) {
    for (const engine of ENGINES) {
      test(`${strategy} × ${engine}: strictly valid, API-server names, lint-clean, no secret values, byte-identical, kustomize builds`, async () => {
        const env = { ...SECRET_ENV };
        const config = loadExample(exampleConfig({ strategy, engine }), env);
        const schemas = await officialSchemas();
        const outA = path.join(work, `${strategy}-${engine}-a`);
        const outB = path.join(work, `${strategy}-${engine}-b`);
        const a = await deploy({ config, out: outA, kustomize: true, schemas, env });
        const b = await deploy({ config, out: outB, kustomize: true, schemas, env });

        // Strict validation of every object against the official schemas (deploy also validated before writing).
        const validator = await officialValidator();
        for (const object of a.objects) assert.deepEqual(validator.validate(object), [], `${object.kind} is invalid`);
        // The API server's name rules (deploy checked them too, before writing).
        assert.deepEqual(checkApiServerRules(a.objects), []);
        const kinds = a.objects.map((o) => o.kind);
        assert.ok(
          kinds.includes('Deployment') &&
            kinds.includes('Service') &&
            kinds.includes('PodDisruptionBudget') &&
            kinds.includes('NetworkPolicy'),
        );
        assert.equal(kinds.includes('ScaledObject'), engine === 'keda');
        assert.equal(kinds.includes('HorizontalPodAutoscaler'), engine === 'hpa');
        assert.equal(kinds.includes('PersistentVolumeClaim'), strategy === 'volume' || strategy === 'init');

        // Lint: the same rules as `llmops deploy lint`, on the YAML as written.
        const docs = a.yaml
          .split(/^---\n/m)
          .filter(Boolean)
          .flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as unknown));
        assert.equal(docs.length, a.objects.length);
        assert.deepEqual(lintObjects(docs.map((object) => ({ object }))), []);

        // Secrets only by reference: no value from the environment anywhere in the files.
        const tree = await readTree(outA);
        const everything = Object.values(tree).join('\n') + a.yaml + a.json;
        for (const [name, value] of Object.entries(SECRET_ENV)) {
          for (const part of value.split(',')) assert.ok(!everything.includes(part), `${name} value leaked`);
        }
        const deployment = a.objects.find((o) => o.kind === 'Deployment') as unknown as {
          spec: {
            replicas?: number;
            template: { spec: { containers: { env: { name: string; valueFrom?: unknown }[] }[] } };
          };
        };
        const hfToken = deployment.spec.template.spec.containers[0]!.env.find((e) => e.name === 'HF_TOKEN');
        assert.deepEqual(hfToken?.valueFrom, { secretKeyRef: { key: 'token', name: 'hf-token' } });
        assert.equal(
          deployment.spec.replicas === undefined,
          engine !== 'none',
          'spec.replicas is omitted exactly when an autoscaler owns it',
        );

        // Deterministic: two runs, byte-identical files.
        assert.equal(a.yaml, b.yaml);
        assert.deepEqual(tree, await readTree(outB));

        if (KUBECTL) {
          for (const dir of ['base', 'overlays/staging', 'overlays/production']) {
            const built: SpawnSyncReturns<string> = spawnSync(KUBECTL, ['kustomize', path.join(outA, dir)], {
              encoding: 'utf8',
            });
            assert.equal(built.status, 0, `kubectl kustomize ${dir}: ${built.stderr}`);
            assert.equal(parseAllDocuments(built.stdout).length, a.objects.length);
          }
        }
      });
    }
  }
});

test(
  'kubectl kustomize is present for the layout check',
  { skip: KUBECTL ? false : 'kubectl not installed: the kustomize build check was skipped' },
  () => {
    assert.ok(KUBECTL);
  },
);
