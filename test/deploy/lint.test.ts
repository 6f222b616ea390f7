import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { lintObjects, RULES } from '../../src/deploy/lint/index.js';
import { exampleConfig, runCli, tempDir, writeConfig } from './helpers.js';

/** What a default Helm chart often ships for a GPU server: every rule has something to say. */
function naiveGpuDeployment(annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'llm', namespace: 'ml', annotations },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'llm' } },
      template: {
        metadata: { labels: { app: 'llm' } },
        spec: {
          containers: [
            {
              name: 'server',
              image: 'vllm/vllm-openai:latest',
              env: [{ name: 'HF_TOKEN', value: 'hf_literal' }],
              resources: { limits: { 'nvidia.com/gpu': 1 } },
              livenessProbe: { httpGet: { path: '/health', port: 8000 } },
              readinessProbe: { httpGet: { path: '/health', port: 8000 } },
            },
          ],
        },
      },
    },
  };
}

const cpuHpa = {
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'llm', namespace: 'ml' },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'llm' },
    minReplicas: 1,
    maxReplicas: 4,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
  },
};

test('rules catch what a default GPU setup gets wrong, naming the checks they mirror', () => {
  const findings = lintObjects([{ object: naiveGpuDeployment() }, { object: cpuHpa }]);
  const rules = new Set(findings.map((f) => f.rule));
  for (const expected of [
    'image-tag',
    'image-pull-policy',
    'resources',
    'run-as-non-root',
    'privilege-escalation',
    'read-only-root-filesystem',
    'drop-capabilities',
    'probes-identical',
    'secret-in-env',
    'automount-service-account-token',
    'default-service-account',
    'gpu-toleration',
    'gpu-node-selector',
    'gpu-startup-probe',
    'gpu-rolling-update',
    'pod-disruption-budget',
    'anti-affinity',
    'network-policy',
    'replicas-with-autoscaler',
    'scale-down-window',
    'resource-metric-for-gpu',
  ]) {
    assert.ok(rules.has(expected), `expected a ${expected} finding`);
  }
  const tag = findings.find((f) => f.rule === 'image-tag')!;
  assert.deepEqual(tag.mirrors, [
    'kube-score:container-image-tag',
    'polaris:tagNotSpecified',
    'kube-linter:latest-tag',
  ]);
  assert.equal(tag.object, 'Deployment/ml/llm');
  assert.ok(RULES.every((rule) => /^[a-z0-9-]+$/.test(rule.id) && rule.description.length > 0));
});

test("the mirrored tools' suppression annotations are honoured", () => {
  const only = (annotations: Record<string, string>) =>
    new Set(lintObjects([{ object: naiveGpuDeployment(annotations) }]).map((f) => f.rule));
  const base = only({});
  assert.ok(base.has('image-tag') && base.has('read-only-root-filesystem') && base.has('pod-disruption-budget'));

  assert.ok(!only({ 'kube-score/ignore': 'container-image-tag, pod-probes-identical' }).has('image-tag'));
  assert.ok(!only({ 'kube-score/ignore': 'container-image-tag, pod-probes-identical' }).has('probes-identical'));
  assert.ok(!only({ 'polaris.fairwinds.com/missingPodDisruptionBudget-exempt': 'true' }).has('pod-disruption-budget'));
  assert.ok(only({ 'polaris.fairwinds.com/missingPodDisruptionBudget-exempt': 'false' }).has('pod-disruption-budget'));
  const polarisAll = only({ 'polaris.fairwinds.com/exempt': 'true' });
  assert.ok(!polarisAll.has('image-tag') && !polarisAll.has('read-only-root-filesystem'));
  assert.ok(polarisAll.has('gpu-toleration'), 'rules Polaris does not have stay on');
  assert.ok(
    !only({ 'ignore-check.kube-linter.io/no-read-only-root-fs': 'model server writes to /' }).has(
      'read-only-root-filesystem',
    ),
  );
  const linterAll = only({ 'kube-linter.io/ignore-all': 'legacy' });
  assert.ok(
    !linterAll.has('run-as-non-root') && linterAll.has('ephemeral-storage'),
    'kube-score-only rules are not silenced by kube-linter',
  );
  assert.ok(!only({ 'llmops.dev/lint-ignore': 'gpu-toleration,gpu-node-selector' }).has('gpu-node-selector'));
  // Options ignore by llmops id or by a mirrored check id.
  assert.ok(
    !lintObjects([{ object: naiveGpuDeployment() }], { ignore: ['latest-tag'] }).some((f) => f.rule === 'image-tag'),
  );
});

test('llmops deploy lint: exit 3 with a table on findings, one JSON document with --json, exit 0 on deploy output', async () => {
  const dir = await tempDir();
  const bad = path.join(dir, 'bad.yaml');
  await writeFile(bad, `${stringify(naiveGpuDeployment())}---\n${stringify(cpuHpa)}`);
  const text = runCli(['deploy', 'lint', bad], { cwd: dir });
  assert.equal(text.status, 3);
  assert.match(text.stdout, /image-tag/);
  assert.match(text.stderr, /^llmops: error: lint: \d+ finding\(s\) in 2 object\(s\)\n$/);

  const json = runCli(['--json', 'deploy', 'lint', bad], { cwd: dir });
  assert.equal(json.status, 3);
  const doc = JSON.parse(json.stdout) as { error: { exitCode: number; details: { findings: { rule: string }[] } } };
  assert.equal(doc.error.exitCode, 3);
  assert.ok(doc.error.details.findings.some((f) => f.rule === 'scale-down-window'));

  await writeConfig(dir, exampleConfig({ strategy: 'init', engine: 'hpa' }));
  const out = path.join(dir, 'k8s');
  assert.equal(runCli(['deploy', '--out', out, '--kustomize'], { cwd: dir }).status, 0);
  const clean = runCli(['deploy', 'lint', out], { cwd: dir });
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /8 object\(s\): no findings/);

  const missing = runCli(['deploy', 'lint', path.join(dir, 'nope.yaml')], { cwd: dir });
  assert.equal(missing.status, 2);
});

test('deploy refuses to write manifests its own lint rejects (exit 3), unless the config ignores the rule', async () => {
  const dir = await tempDir();
  const raw = exampleConfig({ strategy: 'baked', extra: { rollout: { maxSurge: 2, maxUnavailable: 0 } } });
  await writeConfig(dir, raw);
  const out = path.join(dir, 'k8s');
  const run = runCli(['deploy', '--out', out], { cwd: dir });
  assert.equal(run.status, 3);
  assert.match(run.stderr, /gpu-rolling-update/);
  assert.equal(runCli(['deploy', 'lint', dir], { cwd: dir }).status, 0, 'nothing was written');
  (raw.deploy as Record<string, unknown>).lint = { ignore: ['gpu-rolling-update'] };
  await writeConfig(dir, raw);
  assert.equal(runCli(['deploy', '--out', out], { cwd: dir }).status, 0);
});

test('a malformed manifest is linted as one missing those fields, not a crash', () => {
  const wellFormed = naiveGpuDeployment();
  const spec = (wellFormed.spec as { template: { spec: { containers: unknown[] } } }).template.spec;
  const malformed = structuredClone(wellFormed);
  const broken = (malformed.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  broken.containers = [null, 'server', 42, ...spec.containers];
  broken.initContainers = 'none';
  broken.tolerations = { key: 'nvidia.com/gpu' };
  const messages = (object: unknown) =>
    lintObjects([{ object }, { object: null }, { object: 'text' }]).map((f) => f.message);
  assert.deepEqual(messages(malformed), messages(wellFormed));
  assert.ok(messages(wellFormed).length > 0);
});
