import { usageError } from '../errors.js';
import type { DeployConfig, ServeConfig } from '../config/deploy.js';

/** What llmops knows about the servers its scaffold templates build: probe paths and the metrics deploy scales on. */
export interface ServerFacts {
  health: string;
  ready: string;
  metrics: string;
  /** Metrics served on another port than the API (Triton: 8002). */
  metricsPort?: number;
  /** Series whose sum is the number of requests inside one server (waiting + running). Null: not exported. */
  queueMetrics: string[] | null;
  /** KV-cache usage series and the factor that makes it a percentage. */
  kvCache: { metric: string; toPercent: number } | null;
}

export const SERVER_FACTS: Record<ServeConfig['template'], ServerFacts> = {
  // The scaffold's node and fastapi servers export llmops_queue_depth = requests admitted and not yet finished.
  node: {
    health: '/health',
    ready: '/ready',
    metrics: '/metrics',
    queueMetrics: ['llmops_queue_depth'],
    kvCache: null,
  },
  fastapi: {
    health: '/health',
    ready: '/ready',
    metrics: '/metrics',
    queueMetrics: ['llmops_queue_depth'],
    kvCache: null,
  },
  // vLLM's API-key middleware guards every /v1 route (/v1/models answers 401 once VLLM_API_KEY is set): probes use
  // /health, which answers only while the engine is up (src/servers/contracts/vllm.json).
  vllm: {
    health: '/health',
    ready: '/health',
    metrics: '/metrics',
    queueMetrics: ['vllm:num_requests_waiting', 'vllm:num_requests_running'],
    kvCache: { metric: 'vllm:kv_cache_usage_perc', toPercent: 100 },
  },
  tgi: {
    health: '/health',
    ready: '/health',
    metrics: '/metrics',
    queueMetrics: ['tgi_queue_size', 'tgi_batch_current_size'],
    kvCache: null,
  },
  trtllm: { health: '/health', ready: '/health', metrics: '/metrics', queueMetrics: null, kvCache: null },
  triton: {
    health: '/v2/health/live',
    ready: '/v2/health/ready',
    metrics: '/metrics',
    metricsPort: 8002,
    queueMetrics: ['nv_inference_pending_request_count'],
    kvCache: null,
  },
};

/**
 * What each provider calls a GPU, per deploy.gpu.type. Sources:
 * - GKE: `cloud.google.com/gke-accelerator` values, GKE "About GPUs" / "Run GPUs in Standard node pools" docs (checked
 *   2026-08): nvidia-tesla-t4, nvidia-l4, nvidia-tesla-v100, nvidia-tesla-a100 (A2, 40 GB), nvidia-a100-80gb,
 *   nvidia-h100-80gb (A3 High; A3 Mega is nvidia-h100-mega-80gb), nvidia-h200-141gb (A3 Ultra), nvidia-b200 (A4).
 *   Google Cloud offers no A10G (an AWS part) and no L40S.
 * - EKS: Karpenter's `karpenter.k8s.aws/instance-gpu-name`, lowerKabobCase of EC2's GpuInfo name, and
 *   `karpenter.k8s.aws/instance-gpu-memory`, per-GPU memory in MiB (aws/karpenter-provider-aws v1.14,
 *   pkg/providers/instancetype/types.go and website .../reference/instance-types.md): g4dn t4/16384, g6 l4/22888,
 *   g5 a10g/22888, p3 v100/16384 (p3dn 32768), p4d a100/40960, p4de a100/81920, p5 h100/81920, p5e/p5en h200/144384,
 *   p6-b200 b200/183359, g6e l40s/45776. Only A100 needs the memory label: both sizes are named `a100`.
 * - AKS and generic clusters: `nvidia.com/gpu.product` from NVIDIA GPU feature discovery (GPU operator), the NVML
 *   device name with spaces replaced by `-`. One value per type, the SXM/datacenter part: PCIe and NVL variants
 *   (`NVIDIA-A100-80GB-PCIe` on Azure NC A100 v4, `NVIDIA-H100-NVL` on NC H100 v5) need deploy.nodeSelector.
 * - Azure GPU VM families (learn.microsoft.com, sizes/gpu-accelerated, 2024-2025): T4 (NCasT4_v3), V100 (NDv2),
 *   A100 40/80 GB (ND A100 v4, NDm A100 v4), H100 (ND H100 v5), H200 (ND H200 v5); no A10G, L4, L40S or B200 sizes.
 */
interface GpuFacts {
  /** GKE accelerator label value; null where Google Cloud has no such GPU. */
  gke: string | null;
  /** Karpenter labels on EKS; memoryMiB only where two GPUs share a name. */
  eks: { name: string; memoryMiB?: number } | null;
  /** Whether Azure has VM sizes with this GPU. */
  aks: boolean;
  /** `nvidia.com/gpu.product` as GPU feature discovery writes it. */
  product: string;
}

const GPU_TYPES: Record<string, GpuFacts> = {
  'nvidia-t4': { gke: 'nvidia-tesla-t4', eks: { name: 't4' }, aks: true, product: 'Tesla-T4' },
  'nvidia-l4': { gke: 'nvidia-l4', eks: { name: 'l4' }, aks: false, product: 'NVIDIA-L4' },
  'nvidia-a10g': { gke: null, eks: { name: 'a10g' }, aks: false, product: 'NVIDIA-A10G' },
  'nvidia-v100': { gke: 'nvidia-tesla-v100', eks: { name: 'v100' }, aks: true, product: 'Tesla-V100-SXM2-16GB' },
  'nvidia-a100-40gb': {
    gke: 'nvidia-tesla-a100',
    eks: { name: 'a100', memoryMiB: 40960 },
    aks: true,
    product: 'NVIDIA-A100-SXM4-40GB',
  },
  'nvidia-a100-80gb': {
    gke: 'nvidia-a100-80gb',
    eks: { name: 'a100', memoryMiB: 81920 },
    aks: true,
    product: 'NVIDIA-A100-SXM4-80GB',
  },
  'nvidia-h100-80gb': { gke: 'nvidia-h100-80gb', eks: { name: 'h100' }, aks: true, product: 'NVIDIA-H100-80GB-HBM3' },
  // Named after GKE's accelerator (and its memory, like the A100/H100 types): H200 comes in one memory size.
  'nvidia-h200-141gb': { gke: 'nvidia-h200-141gb', eks: { name: 'h200' }, aks: true, product: 'NVIDIA-H200' },
  'nvidia-b200': { gke: 'nvidia-b200', eks: { name: 'b200' }, aks: false, product: 'NVIDIA-B200' },
  'nvidia-l40s': { gke: null, eks: { name: 'l40s' }, aks: false, product: 'NVIDIA-L40S' },
};

export const KNOWN_GPU_TYPES = Object.keys(GPU_TYPES);

/** The GPU types a provider offers. */
export function gpuTypesOn(provider: DeployConfig['provider']): string[] {
  return KNOWN_GPU_TYPES.filter((type) => offers(provider, GPU_TYPES[type]!));
}

function offers(provider: DeployConfig['provider'], facts: GpuFacts): boolean {
  if (provider === 'gke') return facts.gke !== null;
  if (provider === 'eks') return facts.eks !== null;
  if (provider === 'aks') return facts.aks;
  return true;
}

/**
 * The node selector that puts a pod on the right GPU: GKE's `cloud.google.com/gke-accelerator`, Karpenter's
 * `karpenter.k8s.aws/instance-gpu-name` (+ `instance-gpu-memory` for A100) on EKS, GPU feature discovery's
 * `nvidia.com/gpu.product` on AKS and elsewhere. `override` (deploy.nodeSelector) replaces it, and is the way to
 * run a type llmops does not know. An unknown type, or one the provider lacks, is a usage error listing the known ones.
 */
export function gpuNodeSelector(
  provider: DeployConfig['provider'],
  type: string,
  override?: Record<string, string>,
): Record<string, string> {
  if (override && Object.keys(override).length > 0) return { ...override };
  const known = GPU_TYPES[type];
  const escape = 'or set deploy.nodeSelector to the labels of your GPU nodes';
  if (!known) {
    throw usageError(
      `deploy.gpu.type ${type} is not a GPU type llmops knows (${KNOWN_GPU_TYPES.join(', ')}): pick one, ${escape}`,
      'DEPLOY_UNKNOWN_GPU',
    );
  }
  if (!offers(provider, known)) {
    throw usageError(
      `deploy.gpu.type ${type} is not offered on ${provider} (it has ${gpuTypesOn(provider).join(', ')}): pick one, ${escape}`,
      'DEPLOY_GPU_NOT_ON_PROVIDER',
    );
  }
  switch (provider) {
    case 'gke':
      return { 'cloud.google.com/gke-accelerator': known.gke! };
    case 'eks': {
      const { name, memoryMiB } = known.eks!;
      return {
        'karpenter.k8s.aws/instance-gpu-name': name,
        ...(memoryMiB ? { 'karpenter.k8s.aws/instance-gpu-memory': String(memoryMiB) } : {}),
      };
    }
    case 'aks':
    case 'generic':
      return { 'nvidia.com/gpu.product': known.product };
  }
}

/** The GKE node auto-provisioning resource type of a GPU (`nvidia-tesla-t4`, `nvidia-l4`, …), or null when GKE has none. */
export function gkeAcceleratorName(type: string): string | null {
  return GPU_TYPES[type]?.gke ?? null;
}

/** Maps a GPU name as nvidia-smi reports it (`NVIDIA L4`, `Tesla T4`, `NVIDIA A100-SXM4-40GB`) to a deploy.gpu.type, or null. */
export function gpuTypeFromName(name: string): string | null {
  const normalized = name
    .toLowerCase()
    .replace(/^nvidia\s+/, '')
    .replace(/^tesla\s+/, '');
  if (/^t4\b/.test(normalized)) return 'nvidia-t4';
  if (/^l40s\b/.test(normalized)) return 'nvidia-l40s';
  if (/^l4\b/.test(normalized)) return 'nvidia-l4';
  if (/^a10g\b/.test(normalized)) return 'nvidia-a10g';
  if (/^v100\b/.test(normalized)) return 'nvidia-v100';
  if (/^a100\b/.test(normalized)) return /80\s*gb/.test(normalized) ? 'nvidia-a100-80gb' : 'nvidia-a100-40gb';
  // H100 NVL has 94 GB: not the nvidia-h100-80gb type.
  if (/^h100\b/.test(normalized)) return /\bnvl\b/.test(normalized) ? null : 'nvidia-h100-80gb';
  if (/^h200\b/.test(normalized)) return 'nvidia-h200-141gb';
  if (/^b200\b/.test(normalized)) return 'nvidia-b200';
  return null;
}
