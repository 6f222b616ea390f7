import { usageError } from '../errors.js';
import { gkeAcceleratorName } from './facts.js';
import type { Job } from './k8s.js';
import { GPU_TOLERATIONS, guaranteedResources, hardenedContainerSecurity, hardenedPodSecurity, scratchVolumes, secretEnv } from './pod.js';
import { checkPinned, type Resolved } from './resolve.js';
import { quantityToNumber, sumBytes } from './quantity.js';
import { downloader, modelClaimName } from './storage.js';

/** GKE node auto-provisioning config (`gcloud container clusters update C --enable-autoprovisioning --autoprovisioning-config-file nap.yaml`). */
export interface NapConfig {
  resourceLimits: { resourceType: string; minimum?: number; maximum: number }[];
  management: { autoRepair: boolean; autoUpgrade: boolean };
  shieldedInstanceConfig: { enableSecureBoot: boolean; enableIntegrityMonitoring: boolean };
}

/**
 * Cluster-wide limits that let NAP create GPU nodes for replicas.max pods. A GPU node is larger than the pod on it
 * (an L4 pod asking 4 CPUs lands on an 8-vCPU g2-standard-8), so CPU and memory limits allow twice the pod's request.
 */
export function napConfig(r: Resolved): NapConfig {
  if (r.deploy.provider !== 'gke') {
    throw usageError(`--emit nap writes a GKE node auto-provisioning config, but deploy.provider is ${r.deploy.provider}`, 'DEPLOY_NAP_NOT_GKE');
  }
  const max = r.replicas.max;
  const cpu = Math.ceil(quantityToNumber(r.deploy.resources.cpu) * 2) * max;
  const memoryGb = Math.ceil((quantityToNumber(r.deploy.resources.memory) / 1024 ** 3) * 2) * max;
  return {
    resourceLimits: [
      { resourceType: 'cpu', maximum: cpu },
      { resourceType: 'memory', maximum: memoryGb },
      { resourceType: gkeAcceleratorName(r.deploy.gpu.type), maximum: r.deploy.gpu.count * max },
    ],
    management: { autoRepair: true, autoUpgrade: true },
    shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
  };
}

/**
 * A Job that runs `llmops compile` on the GPU node pool the service runs on (TensorRT engines only run on the GPU
 * architecture they were built for). It reads the model from the shared volume (downloading it first, exactly as
 * the pods do, if no pod has yet) and writes the engine into the engines tree beside the downloads, where the pods'
 * wait-for-engine init container finds it.
 */
export function compileJob(r: Resolved): Job {
  const job = r.deploy.compileJob;
  const engine = r.engine;
  if (!job.image || !engine) throw usageError('--emit compile-job needs `deploy.compileJob.image`: an image with llmops and the backend tools', 'DEPLOY_NO_COMPILE_IMAGE');
  checkPinned(job.image, 'deploy.compileJob.image');
  const name = `${r.name}-compile`;
  const labels = { ...r.labels, 'app.kubernetes.io/component': 'compile', 'app.kubernetes.io/instance': name };
  const scratch = scratchVolumes({ shm: r.deploy.resources.shm, cache: r.deploy.resources.cache });
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: r.namespace, labels },
    spec: {
      backoffLimit: 1,
      activeDeadlineSeconds: 4 * 3600,
      ttlSecondsAfterFinished: 7 * 24 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: r.name,
          automountServiceAccountToken: false,
          securityContext: hardenedPodSecurity(),
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
          volumes: [...scratch.volumes, { name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r) } }].sort((a, b) => a.name.localeCompare(b.name)),
        },
      },
    },
  };
}
