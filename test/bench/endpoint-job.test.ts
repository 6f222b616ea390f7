import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildBenchWorkerJob, type BenchWorkerJobOptions } from '../../src/bench/endpoint/k8s-job.js';
import { lintObjects } from '../../src/deploy/lint/index.js';
import { toYaml } from '../../src/k8s/serialize.js';
import { ExitCode, LlmopsError } from '../../src/errors.js';
import { officialValidator, SCHEMAS_MISSING } from '../deploy/helpers.js';

const SENTINEL_KEY = 'sk-bench-SENTINEL-never-in-output-0123456789';

function options(overrides: Partial<BenchWorkerJobOptions> = {}): BenchWorkerJobOptions {
  return {
    name: 'tiny-gpt-bench',
    namespace: 'llm',
    image: 'ghcr.io/acme/llmops:0.1.0',
    workers: 4,
    benchArgs: [
      'bench',
      'http://tiny-gpt.llm.svc:8000',
      '--api',
      'openai-chat',
      '--concurrency',
      '8,32',
      '--duration',
      '60s',
    ],
    apiKeySecret: { name: 'tiny-gpt-api-keys', key: 'api-key' },
    ...overrides,
  };
}

/** Runs `fn` with LLMOPS_API_KEY set to a sentinel, restoring the environment afterwards. */
function withApiKey<T>(fn: () => T): T {
  const saved = process.env.LLMOPS_API_KEY;
  process.env.LLMOPS_API_KEY = SENTINEL_KEY;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.LLMOPS_API_KEY;
    else process.env.LLMOPS_API_KEY = saved;
  }
}

function usageErrorMatching(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof LlmopsError, `expected an LlmopsError, got ${String(error)}`);
    assert.equal(error.exitCode, ExitCode.Usage);
    assert.match(error.message, pattern);
    return true;
  };
}

test(
  'the worker Job passes strict validation against the Kubernetes 1.30 schema',
  { skip: SCHEMAS_MISSING },
  async () => {
    const { job } = buildBenchWorkerJob(options());
    assert.deepEqual((await officialValidator()).validate(job), []);
    const { job: bare } = buildBenchWorkerJob(options({ namespace: undefined, apiKeySecret: undefined, workers: 1 }));
    assert.deepEqual((await officialValidator()).validate(bare), []);
  },
);

test('the worker Job passes every lint rule, default-service-account suppressed by a kube-linter annotation giving the reason', () => {
  const { job } = buildBenchWorkerJob(options());
  assert.deepEqual(lintObjects([{ object: job }]), []);
  // The one suppression, and that it is the only thing the annotation hides.
  const reason = job.metadata.annotations?.['ignore-check.kube-linter.io/default-service-account'];
  assert.match(reason ?? '', /no service account token/);
  const unsuppressed = { ...job, metadata: { ...job.metadata, annotations: {} } };
  assert.deepEqual(
    lintObjects([{ object: unsuppressed }]).map((f) => f.rule),
    ['default-service-account'],
  );
  assert.equal(job.spec.template.spec.automountServiceAccountToken, false);
});

test('two builds from the same options give byte-identical YAML', () => {
  const a = buildBenchWorkerJob(options());
  const b = buildBenchWorkerJob(options());
  assert.equal(toYaml(a.job), toYaml(b.job));
  assert.equal(a.collect, b.collect);
  assert.match(toYaml(a.job), /^apiVersion: batch\/v1\nkind: Job\nmetadata:\n/);
});

test('the API key reaches the workers only as a Secret reference: its value is nowhere in the Job, the args or the collect snippet', () => {
  const { job, collect } = withApiKey(() => buildBenchWorkerJob(options()));
  const yaml = toYaml(job);
  assert.ok(!yaml.includes(SENTINEL_KEY), 'key value in the manifest');
  assert.ok(!JSON.stringify(job).includes(SENTINEL_KEY), 'key value in the object');
  assert.ok(!collect.includes(SENTINEL_KEY), 'key value in the collect snippet');
  const container = job.spec.template.spec.containers[0]!;
  assert.deepEqual(
    container.env?.find((e) => e.name === 'LLMOPS_API_KEY'),
    { name: 'LLMOPS_API_KEY', valueFrom: { secretKeyRef: { name: 'tiny-gpt-api-keys', key: 'api-key' } } },
  );
  assert.ok(!container.args!.some((arg) => /api-key/i.test(arg)), 'no key or secret name among the args');
  assert.ok(!container.env.some((e) => e.value !== undefined && /key/i.test(e.name)), 'no literal key value');

  const { job: keyless } = buildBenchWorkerJob(options({ apiKeySecret: undefined }));
  assert.equal(
    keyless.spec.template.spec.containers[0]!.env!.find((e) => e.name === 'LLMOPS_API_KEY'),
    undefined,
  );
});

test('an API key in the bench arguments is refused (exit 2), as flag or as the value of LLMOPS_API_KEY', () => {
  assert.throws(
    () => buildBenchWorkerJob(options({ benchArgs: ['bench', 'http://svc:8000', '--api-key', 'sk-x'] })),
    usageErrorMatching(/API key cannot be passed .* as an argument/),
  );
  assert.throws(
    () =>
      withApiKey(() =>
        buildBenchWorkerJob(
          options({ benchArgs: ['bench', 'http://svc:8000', '--header', `Authorization: Bearer ${SENTINEL_KEY}`] }),
        ),
      ),
    (error) =>
      usageErrorMatching(/contain the value of LLMOPS_API_KEY/)(error) &&
      !(error as Error).message.includes(SENTINEL_KEY),
  );
  assert.throws(
    () => buildBenchWorkerJob(options({ benchArgs: ['bench', 'http://svc:8000', '--workers', '2'] })),
    usageErrorMatching(/`--workers` is set by --emit-k8s-job itself/),
  );
  assert.throws(
    () => buildBenchWorkerJob(options({ benchArgs: ['bench', 'http://svc:8000', '--emit-k8s-job'] })),
    usageErrorMatching(/--emit-k8s-job/),
  );
});

test('N workers: an Indexed Job with completions = parallelism = N, no retries, and args ending --workers N --json --quiet', () => {
  const { job } = buildBenchWorkerJob(options({ workers: 6 }));
  assert.equal(job.apiVersion, 'batch/v1');
  assert.equal(job.spec.completionMode, 'Indexed');
  assert.equal(job.spec.completions, 6);
  assert.equal(job.spec.parallelism, 6);
  assert.equal(job.spec.backoffLimit, 0);
  assert.equal(job.spec.activeDeadlineSeconds, 3600);
  assert.equal(typeof job.spec.ttlSecondsAfterFinished, 'number');
  const pod = job.spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never');
  const container = pod.containers[0]!;
  assert.deepEqual(container.args, [...options().benchArgs, '--workers', '6', '--json', '--quiet']);
  assert.equal(container.command, undefined, "the image's entrypoint is llmops");
  assert.deepEqual(container.resources, {
    requests: { cpu: '2', memory: '1Gi', 'ephemeral-storage': '1Gi' },
    limits: { cpu: '2', memory: '1Gi', 'ephemeral-storage': '1Gi' },
  });
  assert.deepEqual(container.securityContext?.capabilities, { drop: ['ALL'] });
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
  assert.ok(pod.volumes?.some((v) => v.name === 'tmp' && v.emptyDir));
  assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');

  const anti = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  assert.equal(anti.length, 1);
  assert.equal(anti[0]!.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  assert.deepEqual(anti[0]!.podAffinityTerm.labelSelector.matchLabels, job.spec.template.metadata.labels);

  const labels = job.spec.template.metadata.labels;
  assert.equal(labels['app.kubernetes.io/component'], 'bench-worker');
  assert.equal(labels['app.kubernetes.io/managed-by'], 'llmops');
  assert.equal(labels['app.kubernetes.io/instance'], 'tiny-gpt-bench');
  // Named like the service it loads, a worker still never joins that Service's endpoints.
  const sameName = buildBenchWorkerJob(options({ name: 'tiny-gpt' })).job.spec.template.metadata.labels;
  assert.notEqual(sameName['app.kubernetes.io/name'], 'tiny-gpt');

  const sized = buildBenchWorkerJob(
    options({ resources: { cpu: '4', memory: '2Gi' }, activeDeadlineSeconds: 900 }),
  ).job;
  assert.equal(sized.spec.template.spec.containers[0]!.resources?.limits?.cpu, '4');
  assert.equal(sized.spec.activeDeadlineSeconds, 900);
});

test('the collect snippet waits for the Job, fetches each index’s full log into worker-<i>.json and merges them', () => {
  const { collect } = buildBenchWorkerJob(options({ workers: 3, activeDeadlineSeconds: 600 }));
  const lines = collect.split('\n').filter((line) => line && !line.startsWith('#'));
  assert.deepEqual(lines, [
    'kubectl wait --for=condition=complete job/tiny-gpt-bench -n llm --timeout=720s',
    'for i in $(seq 0 2); do kubectl logs -n llm -l batch.kubernetes.io/job-name=tiny-gpt-bench,batch.kubernetes.io/job-completion-index=$i --tail=-1 > worker-$i.json; done',
    'llmops bench merge worker-*.json',
  ]);
  const { collect: here } = buildBenchWorkerJob(options({ namespace: undefined }));
  assert.ok(!/ -n /.test(here), 'no namespace: kubectl uses its current one');
});

test('an unpinned image is refused with exit code 2, naming --image', () => {
  for (const image of ['ghcr.io/acme/llmops', 'ghcr.io/acme/llmops:latest', 'localhost:5000/llmops']) {
    assert.throws(
      () => buildBenchWorkerJob(options({ image })),
      usageErrorMatching(/--image `.*` is not pinned/),
      image,
    );
  }
  const digest = `ghcr.io/acme/llmops@sha256:${'a'.repeat(64)}`;
  assert.equal(buildBenchWorkerJob(options({ image: digest })).job.spec.template.spec.containers[0]!.image, digest);
});

test('a name that is not a DNS-1123 label, or too long for the pod hostnames, is refused with exit code 2', () => {
  assert.throws(
    () => buildBenchWorkerJob(options({ name: 'Tiny_GPT bench' })),
    usageErrorMatching(/invalid name `Tiny_GPT bench`: it must be a DNS-1123 label/),
  );
  assert.throws(() => buildBenchWorkerJob(options({ name: 'a'.repeat(64) })), usageErrorMatching(/DNS-1123 label/));
  // 61 characters + "-10" is a 64-character hostname.
  assert.throws(
    () => buildBenchWorkerJob(options({ name: 'a'.repeat(61), workers: 11 })),
    usageErrorMatching(/--name.* too long for 11 workers/),
  );
  assert.doesNotThrow(() => buildBenchWorkerJob(options({ name: 'a'.repeat(61), workers: 10 })));
  assert.throws(() => buildBenchWorkerJob(options({ namespace: 'LLM' })), usageErrorMatching(/--namespace/));
  assert.throws(() => buildBenchWorkerJob(options({ workers: 0 })), usageErrorMatching(/--workers/));
  assert.throws(() => buildBenchWorkerJob(options({ workers: 2.5 })), usageErrorMatching(/--workers/));
  assert.throws(
    () => buildBenchWorkerJob(options({ apiKeySecret: { name: 'Bad Name', key: 'k' } })),
    usageErrorMatching(/--api-key-secret/),
  );
});
