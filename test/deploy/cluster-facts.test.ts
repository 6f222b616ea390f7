import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { deploy } from '../../src/deploy/index.js';
import { gpuNodeSelector, gpuTypeFromName, KNOWN_GPU_TYPES } from '../../src/deploy/facts.js';
import type { Deployment, KubeObject, NetworkPolicy } from '../../src/k8s/objects.js';
import { checkApiServerRules } from '../../src/k8s/names.js';
import { gcsfuseCache } from '../../src/deploy/storage.js';
import { LlmopsError } from '../../src/errors.js';
import { exampleConfig, loadExample, runCli, tempDir, writeConfig } from './helpers.js';

type Raw = Record<string, unknown>;
const deployOf = (raw: Raw) => raw.deploy as Raw;
const isUsage = (pattern: RegExp) => (error: unknown) =>
  error instanceof LlmopsError && error.exitCode === 2 && pattern.test(error.message);
const objectOf = <T extends KubeObject>(objects: KubeObject[], kind: string) =>
  objects.find((o) => o.kind === kind) as T;

describe('API-server name rules', () => {
  test('a name starting with a digit is one line, exit 2, suggesting a fix', async () => {
    const dir = await tempDir();
    await writeConfig(dir, { ...exampleConfig({ strategy: 'baked' }), name: '7b-chat' });
    const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, /`name` 7b-chat must start with a letter.*Service.*m7b-chat/);
  });

  test('a 60-character name overflows the derived Job name and labels: exit 2 saying how short it must be', async () => {
    const name = `m${'x'.repeat(59)}`;
    const raw = {
      ...exampleConfig({ strategy: 'init', extra: { compileJob: { image: 'ghcr.io/acme/llmops:0.1.0' } } }),
      name,
    };
    await assert.rejects(deploy({ config: loadExample(raw), emit: ['compile-job'], env: {} }), (error: unknown) => {
      assert.ok(
        isUsage(
          new RegExp(
            `^the API server would refuse Job/${name}-compile: .*shorten \`name\` \\(60 characters\\) to at most 55 \\(and 2 more\\)$`,
          ),
        )(error),
        String(error),
      );
      // The derived label values are findings too, each naming its field.
      const fields = ((error as LlmopsError).details!.findings as { field: string }[]).map((f) => f.field);
      assert.ok(fields.includes('metadata.labels["app.kubernetes.io/instance"]'), fields.join(', '));
      assert.ok(fields.includes('spec.template.metadata.labels["app.kubernetes.io/instance"]'), fields.join(', '));
      return true;
    });
    const dir = await tempDir();
    await writeConfig(dir, raw);
    const run = runCli(['deploy', '-o', 'yaml', '--emit', 'compile-job', '--quiet'], { cwd: dir });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    // Without the Job, the same name fits every object.
    await deploy({ config: loadExample({ ...exampleConfig({ strategy: 'init' }), name }), env: {} });
  });

  test('the checker names object and field for labels, ports, env, volumes, annotations and Service names', () => {
    const findings = checkApiServerRules([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: '7b', namespace: 'llm', labels: { 'app/x': 'v'.repeat(64), 'bad key!': 'ok' } },
        spec: { ports: [{ name: 'Http' }] },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ok', namespace: 'llm', annotations: { big: 'x'.repeat(256 * 1024) } },
        spec: {
          template: {
            metadata: { labels: { a: '' } },
            spec: {
              containers: [
                {
                  name: 'Server',
                  ports: [{ name: 'metrics-port-long' }],
                  env: [{ name: '1BAD' }],
                  volumeMounts: [{ name: 'model_dir' }],
                },
              ],
              volumes: [{ name: 'model_dir' }],
            },
          },
        },
      },
    ] as unknown as KubeObject[]);
    const fields = findings.map((f) => `${f.object} ${f.field}`);
    assert.deepEqual(fields, [
      'Service/7b metadata.name',
      'Service/7b metadata.labels["app/x"]',
      'Service/7b metadata.labels["bad key!"]',
      'Service/7b spec.ports[0].name',
      'Deployment/ok metadata.annotations',
      'Deployment/ok spec.template.spec.containers[0].name',
      'Deployment/ok spec.template.spec.containers[0].ports[0].name',
      'Deployment/ok spec.template.spec.containers[0].env[0].name',
      'Deployment/ok spec.template.spec.containers[0].volumeMounts[0].name',
      'Deployment/ok spec.template.spec.volumes[0].name',
    ]);
    assert.match(findings[0]!.message, /start with a letter/);
    assert.match(findings[1]!.message, /64 characters, over the 63/);
  });
});

describe('GPU catalog per provider', () => {
  const CASES: [provider: 'gke' | 'eks' | 'aks' | 'generic', type: string, selector: Record<string, string>][] = [
    ['gke', 'nvidia-t4', { 'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4' }],
    ['gke', 'nvidia-a100-40gb', { 'cloud.google.com/gke-accelerator': 'nvidia-tesla-a100' }],
    ['gke', 'nvidia-h200-141gb', { 'cloud.google.com/gke-accelerator': 'nvidia-h200-141gb' }],
    ['gke', 'nvidia-b200', { 'cloud.google.com/gke-accelerator': 'nvidia-b200' }],
    ['eks', 'nvidia-a10g', { 'karpenter.k8s.aws/instance-gpu-name': 'a10g' }],
    [
      'eks',
      'nvidia-a100-40gb',
      { 'karpenter.k8s.aws/instance-gpu-name': 'a100', 'karpenter.k8s.aws/instance-gpu-memory': '40960' },
    ],
    [
      'eks',
      'nvidia-a100-80gb',
      { 'karpenter.k8s.aws/instance-gpu-name': 'a100', 'karpenter.k8s.aws/instance-gpu-memory': '81920' },
    ],
    ['eks', 'nvidia-l40s', { 'karpenter.k8s.aws/instance-gpu-name': 'l40s' }],
    ['eks', 'nvidia-h200-141gb', { 'karpenter.k8s.aws/instance-gpu-name': 'h200' }],
    ['aks', 'nvidia-t4', { 'nvidia.com/gpu.product': 'Tesla-T4' }],
    ['aks', 'nvidia-h100-80gb', { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' }],
    ['generic', 'nvidia-a100-80gb', { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' }],
    ['generic', 'nvidia-l40s', { 'nvidia.com/gpu.product': 'NVIDIA-L40S' }],
  ];
  for (const [provider, type, selector] of CASES) {
    test(`${provider} × ${type}`, () => assert.deepEqual(gpuNodeSelector(provider, type), selector));
  }

  test('a GPU the provider lacks, or an unknown one, is a usage error listing the known types', () => {
    assert.throws(
      () => gpuNodeSelector('gke', 'nvidia-l40s'),
      isUsage(/not offered on gke \(it has nvidia-t4, .*nvidia-b200\).*deploy\.nodeSelector/),
    );
    assert.throws(() => gpuNodeSelector('gke', 'nvidia-a10g'), isUsage(/not offered on gke/));
    assert.throws(() => gpuNodeSelector('aks', 'nvidia-a10g'), isUsage(/not offered on aks/));
    assert.throws(
      () => gpuNodeSelector('eks', 'nvidia-rtx-9000'),
      isUsage(new RegExp(`not a GPU type llmops knows \\(${KNOWN_GPU_TYPES.join(', ')}\\)`)),
    );
  });

  test('unknown type → exit 2 in one line; deploy.nodeSelector replaces the derived selector and lets it through', async () => {
    const dir = await tempDir();
    const raw = exampleConfig({ strategy: 'baked', extra: { gpu: { type: 'nvidia-rtx-pro-6000', count: 1 } } });
    await writeConfig(dir, raw);
    const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /nvidia-rtx-pro-6000 is not a GPU type llmops knows/);

    deployOf(raw).nodeSelector = {
      'cloud.google.com/gke-accelerator': 'nvidia-rtx-pro-6000',
      'cloud.google.com/gke-spot': 'true',
    };
    const result = await deploy({ config: loadExample(raw), env: {} });
    assert.deepEqual(
      objectOf<Deployment>(result.objects, 'Deployment').spec.template.spec.nodeSelector,
      deployOf(raw).nodeSelector,
    );
  });

  test('a node selector with a bad label key is a config error naming the key', async () => {
    const dir = await tempDir();
    await writeConfig(dir, exampleConfig({ extra: { nodeSelector: { 'pool name': 'gpu' } } }));
    const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /`deploy\.nodeSelector\.pool name`.*label key/);
  });

  test('nvidia-smi names map to types', () => {
    const names: [string, string | null][] = [
      ['NVIDIA H200', 'nvidia-h200-141gb'],
      ['NVIDIA B200', 'nvidia-b200'],
      ['NVIDIA L40S', 'nvidia-l40s'],
      ['NVIDIA L4', 'nvidia-l4'],
      ['NVIDIA A100-SXM4-40GB', 'nvidia-a100-40gb'],
      ['NVIDIA A100 80GB PCIe', 'nvidia-a100-80gb'],
      ['NVIDIA H100 80GB HBM3', 'nvidia-h100-80gb'],
      ['NVIDIA H100 NVL', null],
      ['Tesla T4', 'nvidia-t4'],
      ['NVIDIA A10', null],
    ];
    for (const [name, type] of names) assert.equal(gpuTypeFromName(name), type, name);
  });
});

describe('--emit nap', () => {
  test('limits are what the rest of the cluster uses plus replicas.max of this service', async () => {
    const dir = await tempDir();
    await writeConfig(
      dir,
      exampleConfig({
        strategy: 'baked',
        extra: { gpu: { type: 'nvidia-t4', count: 2 }, nap: { existing: { cpu: 24, memory: '96Gi', gpus: 2 } } },
      }),
    );
    const out = path.join(dir, 'k8s');
    const run = runCli(['deploy', '--out', out, '--emit', 'nap'], { cwd: dir });
    assert.equal(run.status, 0, run.stderr);
    const nap = parse(await readFile(path.join(out, 'extras', 'nap.yaml'), 'utf8')) as {
      resourceLimits: { resourceType: string; maximum: number }[];
    };
    // This service: 8 replicas × (2 × 4 CPUs, 2 × 16 GiB, 2 T4s) = 64 CPUs, 256 GiB, 16 T4s; plus 24, 96 and 2.
    assert.deepEqual(nap.resourceLimits, [
      { maximum: 88, resourceType: 'cpu' },
      { maximum: 352, resourceType: 'memory' },
      { maximum: 18, resourceType: 'nvidia-tesla-t4' },
    ]);
    assert.doesNotMatch(run.stderr, /cover only this service/);
  });

  test('without deploy.nap.existing the limits cover this service only, and a note says so', async () => {
    const config = loadExample(exampleConfig({ strategy: 'baked' }));
    const dir = await tempDir();
    const result = await deploy({ config, emit: ['nap'], out: path.join(dir, 'k8s'), env: {} });
    assert.ok(
      result.notes.some((n) => /cover only this service.*deploy\.nap\.existing/.test(n)),
      result.notes.join('\n'),
    );
  });
});

describe('gcsfuse', () => {
  test('file cache, its volume and the sidecar resources are sized from deploy.storage.modelSize', async () => {
    const raw = exampleConfig({ strategy: 'gcsfuse' });
    (deployOf(raw).storage as Raw).modelSize = '40Gi';
    const result = await deploy({ config: loadExample(raw), env: {} });
    const pod = objectOf<Deployment>(result.objects, 'Deployment').spec.template;
    // 40 GiB × 1.1 = 45056 MiB of cache; a 45 GiB volume (44 + 1); the sidecar's ephemeral storage carries it, +1 GiB.
    assert.equal(pod.metadata.annotations?.['gke-gcsfuse/ephemeral-storage-limit'], '46Gi');
    assert.equal(pod.metadata.annotations?.['gke-gcsfuse/ephemeral-storage-request'], '46Gi');
    assert.equal(
      pod.metadata.annotations?.['gke-gcsfuse/cpu-limit'],
      pod.metadata.annotations?.['gke-gcsfuse/cpu-request'],
    );
    const volumes = pod.spec.volumes!;
    assert.deepEqual(volumes.find((v) => v.name === 'gke-gcsfuse-cache')?.emptyDir, { sizeLimit: '45Gi' });
    const options = volumes.find((v) => v.name === 'model')!.csi!.volumeAttributes!.mountOptions!.split(',');
    assert.ok(options.includes('file-cache:max-size-mb:45056'));
    assert.ok(options.includes('file-cache:enable-parallel-downloads:true'));
    assert.ok(options.includes('metadata-cache:ttl-secs:-1'));
    assert.ok(!result.notes.some((n) => /modelSize/.test(n)));
  });

  test('an unknown model size is assumed (20Gi) with a note', () => {
    assert.deepEqual(gcsfuseCache(undefined), {
      maxSizeMiB: 22528,
      volume: '23Gi',
      sidecarEphemeral: '24Gi',
      assumed: true,
    });
  });

  test('modelSize with another strategy is a config error', async () => {
    const dir = await tempDir();
    const raw = exampleConfig({ strategy: 'init' });
    (deployOf(raw).storage as Raw).modelSize = '40Gi';
    await writeConfig(dir, raw);
    const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /`deploy\.storage\.modelSize` .*only used by those storage strategies, not init/);
  });
});

describe('NetworkPolicy', () => {
  test('DNS egress reaches kube-dns pods, NodeLocal DNSCache and the GKE metadata server', async () => {
    const result = await deploy({ config: loadExample(exampleConfig({ strategy: 'baked' })), env: {} });
    const dns = objectOf<NetworkPolicy>(result.objects, 'NetworkPolicy').spec.egress[0]!;
    assert.deepEqual(dns.to, [
      { namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
      { ipBlock: { cidr: '169.254.20.10/32' } },
      { ipBlock: { cidr: '169.254.169.254/32' } },
    ]);
    assert.deepEqual(
      dns.ports.map((p) => `${p.port}/${p.protocol}`),
      ['53/UDP', '53/TCP'],
    );
  });

  test('deploy.allowFrom takes namespace names, pod selectors (optionally in a namespace) and CIDRs', async () => {
    const allowFrom = [
      'gateway',
      { podSelector: { app: 'web' } },
      { namespace: 'ingress', podSelector: { 'app.kubernetes.io/name': 'ingress-nginx' } },
      { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] },
    ];
    const result = await deploy({
      config: loadExample(exampleConfig({ strategy: 'baked', extra: { allowFrom } })),
      env: {},
    });
    assert.deepEqual(objectOf<NetworkPolicy>(result.objects, 'NetworkPolicy').spec.ingress[0]!.from, [
      { podSelector: {} },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateway' } } },
      { podSelector: { matchLabels: { app: 'web' } } },
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
      },
      { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
    ]);
  });

  const BAD: [string, unknown, RegExp][] = [
    ['a bad CIDR', { cidr: '10.0.0.0/33' }, /must be a CIDR/],
    ['a CIDR with a namespace', { cidr: '10.0.0.0/8', namespace: 'gateway' }, /cannot be combined/],
    ['an empty peer', {}, /needs namespace, podSelector or cidr/],
  ];
  for (const [name, peer, message] of BAD) {
    test(`deploy.allowFrom with ${name} is a config error (exit 2)`, async () => {
      const dir = await tempDir();
      await writeConfig(dir, exampleConfig({ extra: { allowFrom: [peer] } }));
      const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /deploy\.allowFrom/);
      assert.match(run.stderr, message);
    });
  }
});
