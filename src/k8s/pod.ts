import type {
  Container,
  EnvVar,
  Job,
  Labels,
  PodSecurityContext,
  PodSpec,
  SecurityContext,
  Toleration,
} from './objects.js';
import { sumBytes } from './quantity.js';

/** Above 10000 so the ids clash with no host user (kube-score container-security-context-user-group-id). */
export const RUN_AS_USER = 10001;
/** The writable cache volume: HOME, XDG_CACHE_HOME, the Hugging Face cache and each server's own cache roots. */
export const CACHE_ROOT = '/cache';
export const HF_HOME = `${CACHE_ROOT}/huggingface`;
const TMP_SIZE = '1Gi';

export function hardenedContainerSecurity(): SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: RUN_AS_USER,
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function hardenedPodSecurity(): PodSecurityContext {
  // OnRootMismatch: no recursive chown of a many-gigabyte model volume on every pod start.
  return {
    fsGroup: RUN_AS_USER,
    fsGroupChangePolicy: 'OnRootMismatch',
    runAsGroup: RUN_AS_USER,
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Secret references only: the value stays in the cluster, never in a manifest. */
export function secretEnv(secrets: readonly { env: string; key: string; name: string }[]): EnvVar[] {
  return [...secrets]
    .sort((a, b) => a.env.localeCompare(b.env))
    .map((secret) => ({ name: secret.env, valueFrom: { secretKeyRef: { key: secret.key, name: secret.name } } }));
}

/** GPU nodes carry the nvidia.com/gpu taint (GKE, AKS and the GPU operator add it) so only GPU pods land there. */
export const GPU_TOLERATIONS: Toleration[] = [{ effect: 'NoSchedule', key: 'nvidia.com/gpu', operator: 'Exists' }];

/** Container resources with requests equal to limits: GPU pods get Guaranteed QoS and are evicted last. */
export function guaranteedResources(
  cpu: string,
  memory: string,
  extra: Record<string, string> = {},
): Container['resources'] {
  const values = { cpu, memory, ...extra };
  return { limits: { ...values }, requests: { ...values } };
}

export interface ScratchOptions {
  shm: string;
  /** Size of the cache volume (the server's caches, plus the model when the server downloads it). */
  cache: string;
  /** Cache roots of the server, relative to the cache volume (e.g. VLLM_CACHE_ROOT: vllm). */
  cacheEnv?: Record<string, string> | undefined;
}

export interface Scratch {
  volumes: NonNullable<PodSpec['volumes']>;
  mounts: NonNullable<Container['volumeMounts']>;
  /** Environment that points every cache at the cache volume. */
  env: EnvVar[];
  /** Node disk the disk-backed volumes may fill: the container's ephemeral-storage must cover it. */
  diskBytes: string;
}

/**
 * Writable scratch for a read-only root filesystem: /tmp, shared memory, and one cache volume that HOME,
 * XDG_CACHE_HOME, HF_HOME and the server's own cache roots point into (servers write compiled kernels, torch.compile
 * artifacts and configs there at start-up; with nowhere to write they crash).
 */
export function scratchVolumes(options: ScratchOptions): Scratch {
  const cacheEnv: Record<string, string> = {
    HF_HOME,
    HOME: `${CACHE_ROOT}/home`,
    XDG_CACHE_HOME: `${CACHE_ROOT}/xdg`,
    ...Object.fromEntries(Object.entries(options.cacheEnv ?? {}).map(([name, dir]) => [name, `${CACHE_ROOT}/${dir}`])),
  };
  return {
    volumes: [
      { name: 'cache', emptyDir: { sizeLimit: options.cache } },
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: options.shm } },
      { name: 'tmp', emptyDir: { sizeLimit: TMP_SIZE } },
    ],
    mounts: [
      { name: 'cache', mountPath: CACHE_ROOT },
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    env: Object.entries(cacheEnv)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value })),
    diskBytes: sumBytes(options.cache, TMP_SIZE),
  };
}

/**
 * A Job beside the service (fill the model volume, compile an engine): its pods run as the service's account, hardened,
 * and carry an instance label of their own so the Service, PDB and NetworkPolicy never select them.
 */
export function serviceJob(
  service: { name: string; namespace: string; labels: Labels },
  job: {
    suffix: string;
    component: string;
    backoffLimit: number;
    ttlSecondsAfterFinished?: number;
    spec: Omit<PodSpec, 'serviceAccountName' | 'automountServiceAccountToken' | 'securityContext'>;
  },
): Job {
  const name = `${service.name}-${job.suffix}`;
  const labels = {
    ...service.labels,
    'app.kubernetes.io/component': job.component,
    'app.kubernetes.io/instance': name,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: service.namespace, labels },
    spec: {
      backoffLimit: job.backoffLimit,
      activeDeadlineSeconds: JOB_DEADLINE_SECONDS,
      ...(job.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: job.ttlSecondsAfterFinished } : {}),
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: service.name,
          automountServiceAccountToken: false,
          securityContext: hardenedPodSecurity(),
          ...job.spec,
        },
      },
    },
  };
}

/** Downloads and compiles of large models take long, but a stuck Job must not hold a GPU for ever. */
const JOB_DEADLINE_SECONDS = 4 * 3600;
