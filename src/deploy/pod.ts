import type { DeployConfig } from './config.js';
import type { Container, EnvVar, PodSecurityContext, PodSpec, SecurityContext, Toleration } from './k8s.js';

/** Above 10000 so the ids clash with no host user (kube-score container-security-context-user-group-id). */
export const RUN_AS_USER = 10001;
export const HF_HOME = '/var/cache/huggingface';

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
  return { fsGroup: RUN_AS_USER, fsGroupChangePolicy: 'OnRootMismatch', runAsGroup: RUN_AS_USER, runAsNonRoot: true, runAsUser: RUN_AS_USER, seccompProfile: { type: 'RuntimeDefault' } };
}

/** Secret references only: the value stays in the cluster, never in a manifest. */
export function secretEnv(secrets: DeployConfig['secrets']): EnvVar[] {
  return [...secrets]
    .sort((a, b) => a.env.localeCompare(b.env))
    .map((secret) => ({ name: secret.env, valueFrom: { secretKeyRef: { key: secret.key, name: secret.name } } }));
}

/** GPU nodes carry the nvidia.com/gpu taint (GKE, AKS and the GPU operator add it) so only GPU pods land there. */
export const GPU_TOLERATIONS: Toleration[] = [{ effect: 'NoSchedule', key: 'nvidia.com/gpu', operator: 'Exists' }];

/** Container resources with requests equal to limits: GPU pods get Guaranteed QoS and are evicted last. */
export function guaranteedResources(cpu: string, memory: string, extra: Record<string, string> = {}): Container['resources'] {
  const values = { cpu, memory, ...extra };
  return { limits: { ...values }, requests: { ...values } };
}

/** Scratch volumes for a read-only root filesystem: /tmp, the Hugging Face cache, and shared memory. */
export function scratchVolumes(shm: string): { volumes: NonNullable<PodSpec['volumes']>; mounts: NonNullable<Container['volumeMounts']> } {
  return {
    volumes: [
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: shm } },
      { name: 'hf-cache', emptyDir: { sizeLimit: '2Gi' } },
      { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
    ],
    mounts: [
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'hf-cache', mountPath: HF_HOME },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
}
