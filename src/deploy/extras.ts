import { usageError } from '../errors.js';
import { gkeAcceleratorName } from './facts.js';
import type { Job } from '../k8s/objects.js';
import {
  GPU_TOLERATIONS,
  guaranteedResources,
  hardenedContainerSecurity,
  scratchVolumes,
  secretEnv,
  serviceJob,
} from '../k8s/pod.js';
import { checkPinned } from '../k8s/image.js';
import type { Resolved } from './resolve.js';
import { quantityToNumber, sumBytes } from '../k8s/quantity.js';
import { downloader, modelClaimName } from './storage.js';

/** GKE node auto-provisioning config (`gcloud container clusters update C --enable-autoprovisioning --autoprovisioning-config-file nap.yaml`). */
export interface NapConfig {
  resourceLimits: { resourceType: string; minimum?: number; maximum: number }[];
  management: { autoRepair: boolean; autoUpgrade: boolean };
  shieldedInstanceConfig: { enableSecureBoot: boolean; enableIntegrityMonitoring: boolean };
}

/**
 * NAP's resourceLimits are cluster-wide: every node counts, system pools and other workloads included, so limits
 * sized for this service alone could cap the cluster below what it already runs. The limits are therefore
 * `deploy.nap.existing` (what the rest of the cluster uses) plus what replicas.max pods of this service need. A GPU
 * node is larger than the pod on it (an L4 pod asking 4 CPUs lands on an 8-vCPU g2-standard-8), so CPU and memory
 * allow twice the pod's request.
 */
export function napConfig(r: Resolved): NapConfig {
  if (r.deploy.provider !== 'gke') {
    throw usageError(
      `--emit nap writes a GKE node auto-provisioning config, but deploy.provider is ${r.deploy.provider}`,
      'DEPLOY_NAP_NOT_GKE',
    );
  }
  const accelerator = gkeAcceleratorName(r.deploy.gpu.type);
  if (!accelerator) {
    throw usageError(
      `--emit nap needs a GKE accelerator for deploy.gpu.type ${r.deploy.gpu.type}: use a type GKE offers`,
      'DEPLOY_NAP_NO_ACCELERATOR',
    );
  }
  const limits = napLimits(r);
  return {
    resourceLimits: [
      { resourceType: 'cpu', maximum: limits.cpu },
      { resourceType: 'memory', maximum: limits.memoryGb },
      { resourceType: accelerator, maximum: limits.gpus },
    ],
    management: { autoRepair: true, autoUpgrade: true },
    shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
  };
}

/** existing + this service at replicas.max: CPUs, memory (whole GiB, as before), GPUs of deploy.gpu.type. */
export function napLimits(r: Resolved): { cpu: number; memoryGb: number; gpus: number } {
  const max = r.replicas.max;
  const existing = r.deploy.nap.existing;
  const cpu = Math.ceil(quantityToNumber(r.deploy.resources.cpu) * 2) * max;
  const memoryGb = Math.ceil((quantityToNumber(r.deploy.resources.memory) / 1024 ** 3) * 2) * max;
  return {
    cpu: Math.ceil((existing?.cpu ?? 0) + cpu),
    memoryGb: Math.ceil((existing ? quantityToNumber(existing.memory) / 1024 ** 3 : 0) + memoryGb),
    gpus: (existing?.gpus ?? 0) + r.deploy.gpu.count * max,
  };
}

export const NAP_NO_EXISTING_NOTE =
  'nap.yaml: resourceLimits cover only this service, but NAP limits are cluster-wide: set deploy.nap.existing (cpu, memory, gpus) to what the rest of the cluster uses';

/**
 * A Job that runs `llmops compile` on the GPU node pool the service runs on (TensorRT engines only run on the GPU
 * architecture they were built for). It reads the model from the shared volume (downloading it first, exactly as
 * the pods do, if no pod has yet) and writes the engine into the engines tree beside the downloads, where the pods'
 * wait-for-engine init container finds it.
 */
export function compileJob(r: Resolved): Job {
  const job = r.deploy.compileJob;
  const engine = r.engine;
  if (!job.image || !engine)
    throw usageError(
      '--emit compile-job needs `deploy.compileJob.image`: an image with llmops and the backend tools',
      'DEPLOY_NO_COMPILE_IMAGE',
    );
  checkPinned(job.image, 'deploy.compileJob.image');
  const scratch = scratchVolumes({ shm: r.deploy.resources.shm, cache: r.deploy.resources.cache });
  return serviceJob(r, {
    suffix: 'compile',
    component: 'compile',
    backoffLimit: 1,
    ttlSecondsAfterFinished: 7 * 24 * 3600,
    spec: {
      restartPolicy: 'Never',
      nodeSelector: r.gpuSelector,
      tolerations: GPU_TOLERATIONS,
      initContainers: [downloader(r)],
      containers: [
        {
          name: 'compile',
          image: job.image,
          imagePullPolicy: 'Always',
          args: ['compile', '--model', engine.modelDir, '--backend', engine.backend, '--out', engine.dir, '--force'],
          env: [...scratch.env, ...secretEnv(r.deploy.secrets.filter((s) => s.env === 'HF_TOKEN'))],
          resources: guaranteedResources(r.deploy.resources.cpu, r.deploy.resources.memory, {
            'ephemeral-storage': sumBytes(r.deploy.resources.ephemeralStorage, scratch.diskBytes),
            'nvidia.com/gpu': String(r.deploy.gpu.count),
          }),
          securityContext: hardenedContainerSecurity(),
          volumeMounts: [...scratch.mounts, { name: 'model', mountPath: r.deploy.storage.path }],
        },
      ],
      volumes: [...scratch.volumes, { name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r) } }].sort(
        (a, b) => a.name.localeCompare(b.name),
      ),
    },
  });
}
