import { usageError } from '../../errors.js';
import { checkPinned } from '../../k8s/image.js';
import { DNS_LABEL, validateName } from '../../k8s/names.js';
import type { Job, Labels } from '../../k8s/objects.js';
import { guaranteedResources, hardenedContainerSecurity, hardenedPodSecurity } from '../../k8s/pod.js';
import { QUANTITY } from '../../k8s/quantity.js';

export interface BenchWorkerJobOptions {
  /** Job name, a DNS-1123 label (`--name`). */
  name: string;
  /** `--namespace`; without it the Job goes to kubectl's current namespace. */
  namespace?: string;
  /** An image whose entrypoint is `llmops`, pinned by a version tag or a digest (`--image`). */
  image: string;
  /** Pods running at once, each taking its share of the load (`--workers`). */
  workers: number;
  /**
   * Everything after `llmops`, e.g. `['bench', 'http://svc:8000', '--concurrency', '8,32', '--duration', '60s']`;
   * the builder appends `--workers N --json --quiet`.
   */
  benchArgs: string[];
  /** The Secret key holding the endpoint's API key, passed to the workers as LLMOPS_API_KEY (`--api-key-secret NAME:KEY`). */
  apiKeySecret?: { name: string; key: string };
  /** Per worker, requests = limits (Guaranteed QoS: each worker gets its cores to itself). @default { cpu: '2', memory: '1Gi' } */
  resources?: { cpu: string; memory: string };
  /** The Job fails when its workers run longer than this. @default 3600 */
  activeDeadlineSeconds?: number;
}

/** A batch/v1 Job in Indexed completion mode: pod i gets JOB_COMPLETION_INDEX=i. */
export interface IndexedJob extends Omit<Job, 'spec'> {
  spec: Job['spec'] & { completionMode: 'Indexed'; completions: number; parallelism: number };
}

export interface BenchWorkerJobResult {
  job: IndexedJob;
  /** Shell lines that wait for the Job, fetch each worker's JSON and merge them (for stderr). */
  collect: string;
}

const DEFAULT_RESOURCES = { cpu: '2', memory: '1Gi' };
const DEFAULT_DEADLINE_SECONDS = 3600;
/** Long enough to collect the logs after the run; then the Job and its pods are garbage-collected. */
const TTL_AFTER_FINISHED_SECONDS = 3600;
/** The Indexed-mode maximum of completions and parallelism. */
const MAX_WORKERS = 100_000;
const CONTAINER = 'bench';
/** Flags the builder owns, or that would make a worker do something other than run its share. */
const OWNED_FLAGS = ['--workers', '--emit-k8s-job', '--image', '--namespace', '--name', '--api-key-secret'];
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/**
 * The Kubernetes Job behind `llmops bench URL … --emit-k8s-job --workers N`: N pods at once, each running the same
 * bench with `--workers N` so it takes the share of the load its JOB_COMPLETION_INDEX names, and printing its result
 * JSON on stdout for `llmops bench merge`.
 */
export function buildBenchWorkerJob(options: BenchWorkerJobOptions): BenchWorkerJobResult {
  const { name, namespace, image, workers, apiKeySecret } = options;
  const resources = options.resources ?? DEFAULT_RESOURCES;
  const deadline = options.activeDeadlineSeconds ?? DEFAULT_DEADLINE_SECONDS;
  validateName(name);
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) {
    throw usageError(
      `Expected \`--namespace\` to be a DNS-1123 label (lowercase letters, digits and '-'), got \`${namespace}\`.`,
      'INVALID_NAMESPACE',
    );
  }
  checkPinned(image, '--image');
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw usageError(
      `Expected \`--workers\` to be an integer from 1 to ${MAX_WORKERS}, got \`${workers}\`.`,
      'INVALID_WORKERS',
    );
  }
  // Pod i's hostname is `NAME-i`, and a hostname is a DNS label too: the API server would refuse the pods, not the Job.
  const longestHostname = `${name}-${workers - 1}`;
  if (longestHostname.length > 63) {
    throw usageError(
      `\`--name\` ${name} is too long for ${workers} workers: pod hostname ${longestHostname} exceeds 63 characters`,
      'INVALID_NAME',
      {
        hint: `use a name of at most ${63 - 1 - String(workers - 1).length} characters`,
      },
    );
  }
  if (!Number.isInteger(deadline) || deadline < 1) {
    throw usageError(
      `Expected the Job's activeDeadlineSeconds to be a positive integer, got \`${deadline}\`.`,
      'INVALID_DEADLINE',
    );
  }
  for (const [field, value] of Object.entries(resources)) {
    if (!QUANTITY.test(value))
      throw usageError(
        `Expected the worker's ${field} to be a Kubernetes quantity such as 2, 500m or 1Gi, got \`${value}\`.`,
        'INVALID_RESOURCES',
      );
  }
  if (apiKeySecret && (!SECRET_NAME.test(apiKeySecret.name) || !SECRET_KEY.test(apiKeySecret.key))) {
    throw usageError(
      `Expected \`--api-key-secret\` to be NAME:KEY with NAME a Secret name and KEY a key of it, got \`${apiKeySecret.name}:${apiKeySecret.key}\`.`,
      'INVALID_API_KEY_SECRET',
    );
  }
  checkBenchArgs(options.benchArgs);

  // Not app.kubernetes.io/name = NAME: a worker must never match the selector of the Service it loads.
  const labels: Labels = {
    'app.kubernetes.io/component': 'bench-worker',
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/managed-by': 'llmops',
    'app.kubernetes.io/name': 'llmops-bench',
  };
  const job: IndexedJob = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace,
      labels,
      // kube-linter's own annotation (llmops lint honours it): the value is the reason, kept in the manifest.
      annotations: {
        'ignore-check.kube-linter.io/default-service-account':
          'bench workers mount no service account token and call no Kubernetes API',
      },
    },
    spec: {
      completionMode: 'Indexed',
      completions: workers,
      parallelism: workers,
      // A retried worker would run its share twice and distort the combined load: one failure fails the Job.
      backoffLimit: 0,
      activeDeadlineSeconds: deadline,
      ttlSecondsAfterFinished: TTL_AFTER_FINISHED_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: hardenedPodSecurity(),
          affinity: {
            podAntiAffinity: {
              // Two load generators on one node contend for its CPUs and NIC and skew the measurement.
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' },
                },
              ],
            },
          },
          containers: [
            {
              name: CONTAINER,
              image,
              imagePullPolicy: 'Always',
              args: [...options.benchArgs, '--workers', String(workers), '--json', '--quiet'],
              env: [
                ...(apiKeySecret
                  ? [
                      {
                        name: 'LLMOPS_API_KEY',
                        valueFrom: { secretKeyRef: { key: apiKeySecret.key, name: apiKeySecret.name } },
                      },
                    ]
                  : []),
                // The pod log is stdout and stderr together: a Node warning would corrupt the worker's JSON.
                { name: 'NODE_NO_WARNINGS', value: '1' },
              ],
              resources: guaranteedResources(resources.cpu, resources.memory, { 'ephemeral-storage': '1Gi' }),
              securityContext: hardenedContainerSecurity(),
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '512Mi' } }],
        },
      },
    },
  };
  return { job, collect: collectScript(name, namespace, workers, deadline) };
}

function checkBenchArgs(args: readonly string[]): void {
  if (args[0] !== 'bench' || args.length < 2) {
    throw new Error(`benchArgs must start with \`bench URL\`, got \`${args.slice(0, 2).join(' ')}\``);
  }
  for (const arg of args) {
    const flag = arg.split('=')[0]!;
    if (OWNED_FLAGS.includes(flag))
      throw usageError(
        `\`${flag}\` is set by --emit-k8s-job itself and cannot be passed to the workers`,
        'BENCH_JOB_FLAG',
      );
    // The key reaches the pods from the Secret only: an argument would sit in the manifest and in `ps`.
    if (flag === '--api-key') {
      throw usageError('an API key cannot be passed to Kubernetes workers as an argument', 'BENCH_JOB_SECRET_ARG', {
        hint: 'store it in a Secret and pass --api-key-secret NAME:KEY',
      });
    }
  }
  const key = process.env.LLMOPS_API_KEY;
  if (key && args.some((arg) => arg.includes(key))) {
    throw usageError(
      'the bench arguments contain the value of LLMOPS_API_KEY: it would be written into the Job',
      'BENCH_JOB_SECRET_ARG',
      {
        hint: 'pass the key through a Secret with --api-key-secret NAME:KEY',
      },
    );
  }
}

/** `kubectl logs -l` shows only the last 10 lines unless told otherwise, hence --tail=-1. */
function collectScript(name: string, namespace: string | undefined, workers: number, deadline: number): string {
  const ns = namespace ? ` -n ${namespace}` : '';
  // The deadline counts from the Job's start, so by then it has completed or failed; a failed Job never completes.
  const timeout = deadline + 120;
  return [
    `# after \`kubectl apply -f\` of the Job: wait for its ${workers} workers, fetch each one's result, merge them`,
    `kubectl wait --for=condition=complete job/${name}${ns} --timeout=${timeout}s`,
    `for i in $(seq 0 ${workers - 1}); do kubectl logs${ns} -l batch.kubernetes.io/job-name=${name},batch.kubernetes.io/job-completion-index=$i --tail=-1 > worker-$i.json; done`,
    'llmops bench merge worker-*.json',
    `# a worker that failed fails the Job (no retries): kubectl describe job/${name}${ns}`,
    '',
  ].join('\n');
}
