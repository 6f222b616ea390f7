import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { deploy } from '../../src/deploy/index.js';
import type { Deployment, Job } from '../../src/k8s/objects.js';
import {
  exampleConfig,
  loadExample,
  officialSchemas,
  officialValidator,
  runCli,
  SCHEMAS_MISSING,
  tempDir,
  writeConfig,
} from './helpers.js';

test('--emit nap writes a GKE node auto-provisioning config with the GPU type in its resource limits', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'baked', extra: { gpu: { type: 'nvidia-t4', count: 2 } } }));
  const out = path.join(dir, 'k8s');
  const run = runCli(['deploy', '--out', out, '--emit', 'nap'], { cwd: dir });
  assert.equal(run.status, 0, run.stderr);
  const nap = parse(await readFile(path.join(out, 'extras', 'nap.yaml'), 'utf8')) as {
    resourceLimits: { resourceType: string; maximum: number }[];
  };
  // 8 replicas × 2 T4s; CPU and memory: twice the pod's 4 CPUs / 16 GiB per replica.
  assert.deepEqual(nap.resourceLimits, [
    { maximum: 64, resourceType: 'cpu' },
    { maximum: 256, resourceType: 'memory' },
    { maximum: 16, resourceType: 'nvidia-tesla-t4' },
  ]);
  assert.equal(runCli(['deploy', '-o', 'yaml', '--emit', 'nap'], { cwd: dir }).status, 2, 'nap needs --out');
});

test(
  'deploy.compileJob: a valid Job compiles the downloaded model on the serving GPU pool into the engines tree, and pods serve that engine',
  { skip: SCHEMAS_MISSING },
  async () => {
    const rev = '0123abcd0123abcd0123abcd0123abcd0123abcd';
    const config = loadExample(
      exampleConfig({ strategy: 'init', extra: { compileJob: { image: 'ghcr.io/acme/llmops:0.1.0' } } }),
    );
    const result = await deploy({ config, emit: ['compile-job'], schemas: await officialSchemas() });
    const job = result.objects.find((o) => o.kind === 'Job') as Job;
    assert.deepEqual((await officialValidator()).validate(job), []);
    const pod = job.spec.template.spec;
    // The node server runs ort artifacts (the default backend for it); the model comes from the volume, not the Hub.
    assert.deepEqual(pod.containers[0]!.args, [
      'compile',
      '--model',
      `/models/models/acme/tiny-gpt/${rev}`,
      '--backend',
      'ort',
      '--out',
      `/models/engines/acme/tiny-gpt/${rev}/ort`,
      '--force',
    ]);
    assert.deepEqual(
      pod.initContainers!.map((c) => c.name),
      ['model-download'],
      'the Job downloads first when no pod has yet',
    );
    assert.deepEqual(pod.nodeSelector, { 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
    assert.equal(pod.volumes!.find((v) => v.name === 'model')!.persistentVolumeClaim!.claimName, 'tiny-gpt-model');
    assert.notEqual(
      job.spec.template.metadata.labels['app.kubernetes.io/instance'],
      'tiny-gpt',
      'job pods stay out of the Service selector',
    );

    const deployment = result.objects.find((o) => o.kind === 'Deployment') as Deployment;
    const podSpec = deployment.spec.template.spec;
    assert.deepEqual(
      podSpec.initContainers!.map((c) => c.name),
      ['model-download', 'wait-for-engine'],
    );
    assert.deepEqual(podSpec.initContainers![1]!.env, [
      { name: 'WAIT_FOR', value: `/models/engines/acme/tiny-gpt/${rev}/ort/llmops.json` },
    ]);
    assert.equal(
      podSpec.containers[0]!.env!.find((e) => e.name === 'MODEL_DIR')!.value,
      `/models/engines/acme/tiny-gpt/${rev}/ort`,
    );
    // The Job is part of the config: emitted without the flag too.
    assert.ok((await deploy({ config })).objects.some((o) => o.kind === 'Job'));

    assert.throws(
      () =>
        loadExample(
          exampleConfig({ strategy: 'baked', extra: { compileJob: { image: 'ghcr.io/acme/llmops:0.1.0' } } }),
        ),
      /deploy\.storage\.strategy.*writable volume/,
    );
    assert.throws(
      () =>
        loadExample(
          exampleConfig({
            strategy: 'init',
            extra: { compileJob: { image: 'ghcr.io/acme/llmops:0.1.0', backend: 'tensorrt' } },
          }),
        ),
      /node server runs ort or optimum artifacts, not tensorrt/,
    );
    const noImage = loadExample(exampleConfig({ strategy: 'init' }));
    await assert.rejects(deploy({ config: noImage, emit: ['compile-job'] }), /deploy\.compileJob\.image/);
  },
);

test('a TensorRT artifact built on another GPU than deploy.gpu.type is refused (exit 2)', async () => {
  const dir = await tempDir();
  const artifact = path.join(dir, 'artifact');
  await mkdir(artifact);
  await writeFile(
    path.join(artifact, 'llmops.json'),
    JSON.stringify({ schemaVersion: 1, backend: 'tensorrt', hardware: { gpu: { name: 'NVIDIA A100-SXM4-80GB' } } }),
  );
  const raw = { ...exampleConfig({ strategy: 'baked' }), model: { path: './artifact' } };
  await writeConfig(dir, raw);
  const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /built on NVIDIA A100-SXM4-80GB \(nvidia-a100-80gb\) but deploy\.gpu\.type is nvidia-l4/);
  (raw as Record<string, Record<string, unknown>>).deploy!.gpu = { type: 'nvidia-a100-80gb', count: 1 };
  await writeConfig(dir, raw);
  assert.equal(runCli(['deploy', '-o', 'yaml'], { cwd: dir }).status, 0);
});

test('existing --out needs --force; two CLI runs write byte-identical trees; -o json is a List', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'volume' }));
  const out = path.join(dir, 'k8s');
  assert.equal(runCli(['deploy', '--out', out], { cwd: dir }).status, 0);
  const first = await readFile(path.join(out, 'deployment-tiny-gpt.yaml'), 'utf8');
  const again = runCli(['deploy', '--out', out], { cwd: dir });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already exists.*--force/);
  assert.equal(runCli(['deploy', '--out', out, '--force'], { cwd: dir }).status, 0);
  assert.equal(await readFile(path.join(out, 'deployment-tiny-gpt.yaml'), 'utf8'), first);
  const json = runCli(['deploy', '-o', 'json'], { cwd: dir });
  const list = JSON.parse(json.stdout) as { kind: string; items: { kind: string }[] };
  assert.equal(list.kind, 'List');
  assert.ok(list.items.some((i) => i.kind === 'PersistentVolumeClaim'));
});

test('engine hpa writes the prometheus-adapter rule that serves its external metric', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'baked', engine: 'hpa' }));
  const out = path.join(dir, 'k8s');
  const run = runCli(['deploy', '--out', out, '--kustomize'], { cwd: dir });
  assert.equal(run.status, 0, run.stderr);
  const rules = parse(await readFile(path.join(out, 'extras', 'prometheus-adapter-rules.yaml'), 'utf8')) as {
    externalRules: Record<string, unknown>[];
  };
  assert.deepEqual(rules.externalRules, [
    {
      metricsQuery: 'sum(llmops_queue_depth{namespace="llm",service="tiny-gpt"})',
      name: { as: 'llmops_tiny_gpt_queue_depth' },
      resources: { namespaced: false },
      seriesQuery: 'llmops_queue_depth',
    },
  ]);
  const hpa = parse(await readFile(path.join(out, 'base/horizontalpodautoscaler-tiny-gpt.yaml'), 'utf8')) as {
    spec: { metrics: { external: unknown }[] };
  };
  assert.deepEqual(hpa.spec.metrics[0]!.external, {
    metric: { name: 'llmops_tiny_gpt_queue_depth' },
    target: { averageValue: '4', type: 'AverageValue' },
  });
});

test('CLI with secrets in the environment: no secret value in any file, stdout or stderr', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'init', engine: 'hpa' }));
  const env = {
    HF_TOKEN: 'hf_cliSECRET0123456789abcdef',
    API_KEYS: 'sk-cli-secret-0123456789',
    LLMOPS_API_KEY: 'sk-llmops-secret-987654',
  };
  const out = path.join(dir, 'k8s');
  const run = runCli(['--verbose', 'deploy', '--out', out, '--kustomize', '--emit', 'nap'], { cwd: dir, env });
  assert.equal(run.status, 0, run.stderr);
  const json = runCli(['--json', 'deploy', '-o', 'yaml'], { cwd: dir, env });
  const { readdir } = await import('node:fs/promises');
  const files = await readdir(out, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    files
      .filter((f) => f.isFile())
      .map((f) => readFile(path.join(f.parentPath ?? (f as unknown as { path: string }).path, f.name), 'utf8')),
  );
  const everything = [...texts, run.stdout, run.stderr, json.stdout, json.stderr].join('\n');
  for (const value of Object.values(env)) assert.ok(!everything.includes(value), `leaked ${value.slice(0, 6)}…`);
});

test('defence in depth: a secret value smuggled under an innocent name is refused before anything is written', async () => {
  const dir = await tempDir();
  const raw = exampleConfig({ strategy: 'baked' });
  (raw.serve as Record<string, unknown>).env = { EXTRA_ARGS: '--auth hf_cliSECRET0123456789abcdef' };
  await writeConfig(dir, raw);
  const out = path.join(dir, 'k8s');
  const run = runCli(['deploy', '--out', out], { cwd: dir, env: { HF_TOKEN: 'hf_cliSECRET0123456789abcdef' } });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /contain the secret value of \$HF_TOKEN/);
  assert.ok(!run.stderr.includes('hf_cliSECRET'), 'the error does not print the value');
  await assert.rejects(readFile(path.join(out, 'deployment-tiny-gpt.yaml')), /ENOENT/);
});
