import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exampleConfig, runCli, tempDir, writeConfig } from './helpers.js';

type Raw = Record<string, unknown>;
const deployOf = (raw: Raw) => raw.deploy as Raw;

/** Each case: a change to the example config, and the key the one-line error must name. */
const CASES: { name: string; change: (raw: Raw) => void; key: string; message: RegExp }[] = [
  {
    name: 'unknown key',
    change: (raw) => void (deployOf(raw).replica = 3),
    key: 'deploy.replica',
    message: /is not a known key/,
  },
  {
    name: 'wrong type',
    change: (raw) => void (deployOf(raw).replicas = { min: 'two', max: 8 }),
    key: 'deploy.replicas.min',
    message: /must be a number/,
  },
  {
    name: 'gpu count 0.5',
    change: (raw) => void (deployOf(raw).gpu = { type: 'nvidia-l4', count: 0.5 }),
    key: 'deploy.gpu.count',
    message: /integer/,
  },
  {
    name: 'gpu count 0',
    change: (raw) => void (deployOf(raw).gpu = { type: 'nvidia-l4', count: 0 }),
    key: 'deploy.gpu.count',
    message: /1/,
  },
  {
    name: 'init without size',
    change: (raw) => void (deployOf(raw).storage = { strategy: 'init' }),
    key: 'deploy.storage.size',
    message: /required for storage strategy init/,
  },
  {
    name: 'volume without size or claim',
    change: (raw) => void (deployOf(raw).storage = { strategy: 'volume' }),
    key: 'deploy.storage.size',
    message: /required for storage strategy volume/,
  },
  {
    name: 'gcsfuse without bucket',
    change: (raw) => void (deployOf(raw).storage = { strategy: 'gcsfuse' }),
    key: 'deploy.storage.bucket',
    message: /required for storage strategy gcsfuse/,
  },
  {
    name: 'gcsfuse off GKE',
    change: (raw) =>
      Object.assign(deployOf(raw), { provider: 'eks', storage: { strategy: 'gcsfuse', bucket: 'acme-models' } }),
    key: 'deploy.provider',
    message: /must be gke/,
  },
  {
    name: 'init without a pinned revision',
    change: (raw) => void (raw.model = 'acme/tiny-gpt'),
    key: 'model.revision',
    message: /required for storage strategy init/,
  },
  {
    name: 'unknown storage strategy',
    change: (raw) => void (deployOf(raw).storage = { strategy: 'nfs' }),
    key: 'deploy.storage.strategy',
    message: /must be one of/,
  },
  {
    name: 'volume without a source or a size',
    change: (raw) => void (deployOf(raw).storage = { strategy: 'volume' }),
    key: 'deploy.storage.size',
    message: /claimName.*dataSource.*a Job fills/,
  },
  {
    name: 'hub storage with a server that cannot download',
    change: (raw) => void (deployOf(raw).storage = { strategy: 'hub' }),
    key: 'deploy.storage.strategy',
    message: /downloads from the Hub itself.*not node/,
  },
  {
    name: "scale to zero on the pods' own metric",
    change: (raw) => void (deployOf(raw).replicas = { min: 0, max: 8 }),
    key: 'deploy.replicas.min',
    message: /never wake/,
  },
  {
    name: 'replicas.min above max',
    change: (raw) => void (deployOf(raw).replicas = { min: 9, max: 8 }),
    key: 'deploy.replicas.min',
    message: /must not exceed/,
  },
  {
    name: 'grace shorter than preStop + shutdown',
    change: (raw) => void (deployOf(raw).drain = { preStopSeconds: 15, terminationGracePeriodSeconds: 20 }),
    key: 'deploy.drain.terminationGracePeriodSeconds',
    message: /at least .* = 45/,
  },
  {
    name: 'a secret value in serve.env',
    change: (raw) => void ((raw.serve as Raw).env = { HF_TOKEN: 'hf_abc' }),
    key: 'serve.env.HF_TOKEN',
    message: /looks like a secret/,
  },
  {
    name: 'bad quantity',
    change: (raw) => void (deployOf(raw).resources = { cpu: 'four', memory: '16Gi' }),
    key: 'deploy.resources.cpu',
    message: /quantity/,
  },
  {
    name: 'percentage target above 100',
    change: (raw) => void (deployOf(raw).autoscaling = { metric: 'gpu-utilization', target: 170 }),
    key: 'deploy.autoscaling.target',
    message: /percentage/,
  },
];

describe('bad deploy config exits 2 with one line naming the key', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const dir = await tempDir();
      const raw = exampleConfig();
      c.change(raw);
      await writeConfig(dir, raw);
      const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stdout, '');
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.ok(lines[0]!.includes(`\`${c.key}\``), `names ${c.key}: ${lines[0]}`);
      assert.match(lines[0]!, c.message);
      assert.match(lines[0]!, /llmops\.yaml:\d+:/, 'with file and line');
    });
  }
});

test('a server flag the server does not have is exit 2 in one line naming it', async () => {
  const dir = await tempDir();
  const raw = exampleConfig({ strategy: 'init' });
  raw.serve = { image: 'vllm/vllm-openai:v0.11.0', template: 'vllm', extraArgs: ['--gpu-memory-utilisation', '0.85'] };
  await writeConfig(dir, raw);
  const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, /--gpu-memory-utilisation.*did you mean --gpu-memory-utilization/);
});

test('deploy without an image says how to give one (exit 2), and an unpinned image is refused', async () => {
  const dir = await tempDir();
  const missing = runCli(['deploy'], { cwd: dir });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /serve\.image.*--image/);
  const latest = runCli(['deploy', '--image', 'ghcr.io/acme/server:latest'], { cwd: dir });
  assert.equal(latest.status, 2);
  assert.match(latest.stderr, /--image `ghcr\.io\/acme\/server:latest` is not pinned/);
  const untagged = runCli(['deploy', '--image', 'ghcr.io/acme/server'], { cwd: dir });
  assert.equal(untagged.status, 2);
});

test('flags are validated: --emit, --peak-qps, -o with --out, --dry-run without --apply', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig());
  assert.equal(runCli(['deploy', '--emit', 'helm'], { cwd: dir }).status, 2);
  assert.equal(runCli(['deploy', '--peak-qps', '-3'], { cwd: dir }).status, 2);
  assert.equal(runCli(['deploy', '-o', 'yaml', '--out', 'k8s'], { cwd: dir }).status, 2);
  const dryRun = runCli(['deploy', '--dry-run', 'server'], { cwd: dir });
  assert.equal(dryRun.status, 2);
  assert.match(dryRun.stderr, /--apply/);
  const kustomize = runCli(['deploy', '--kustomize'], { cwd: dir });
  assert.equal(kustomize.status, 2);
  assert.match(kustomize.stderr, /--out/);
});
