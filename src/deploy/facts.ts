import type { DeployConfig, ServeConfig } from './config.js';

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
  node: { health: '/health', ready: '/ready', metrics: '/metrics', queueMetrics: ['llmops_queue_depth'], kvCache: null },
  fastapi: { health: '/health', ready: '/ready', metrics: '/metrics', queueMetrics: ['llmops_queue_depth'], kvCache: null },
  // vLLM's API-key middleware guards every /v1 route (/v1/models answers 401 once VLLM_API_KEY is set): probes use
  // /health, which answers only while the engine is up (src/servers/contracts/vllm.json).
  vllm: {
    health: '/health',
    ready: '/health',
    metrics: '/metrics',
    queueMetrics: ['vllm:num_requests_waiting', 'vllm:num_requests_running'],
    kvCache: { metric: 'vllm:kv_cache_usage_perc', toPercent: 100 },
  },
  tgi: { health: '/health', ready: '/health', metrics: '/metrics', queueMetrics: ['tgi_queue_size', 'tgi_batch_current_size'], kvCache: null },
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

/** GPU types llmops knows, with each provider's node-label value. Unknown types pass through unchanged on GKE. */
const GPU_TYPES: Record<string, { gke: string; eks: string; aks: string; gpuProduct: string }> = {
  'nvidia-t4': { gke: 'nvidia-tesla-t4', eks: 't4', aks: 'Tesla-T4', gpuProduct: 'Tesla-T4' },
  'nvidia-l4': { gke: 'nvidia-l4', eks: 'l4', aks: 'NVIDIA-L4', gpuProduct: 'NVIDIA-L4' },
  'nvidia-a10g': { gke: 'nvidia-a10g', eks: 'a10g', aks: 'NVIDIA-A10G', gpuProduct: 'NVIDIA-A10G' },
  'nvidia-v100': { gke: 'nvidia-tesla-v100', eks: 'v100', aks: 'Tesla-V100-SXM2-16GB', gpuProduct: 'Tesla-V100-SXM2-16GB' },
  'nvidia-a100-40gb': { gke: 'nvidia-tesla-a100', eks: 'a100', aks: 'NVIDIA-A100-SXM4-40GB', gpuProduct: 'NVIDIA-A100-SXM4-40GB' },
  'nvidia-a100-80gb': { gke: 'nvidia-a100-80gb', eks: 'a100', aks: 'NVIDIA-A100-SXM4-80GB', gpuProduct: 'NVIDIA-A100-SXM4-80GB' },
  'nvidia-h100-80gb': { gke: 'nvidia-h100-80gb', eks: 'h100', aks: 'NVIDIA-H100-80GB-HBM3', gpuProduct: 'NVIDIA-H100-80GB-HBM3' },
};

export const KNOWN_GPU_TYPES = Object.keys(GPU_TYPES);

/**
 * The node selector that puts a pod on the right GPU. GKE labels GPU nodes with `cloud.google.com/gke-accelerator`;
 * on EKS, Karpenter labels `karpenter.k8s.aws/instance-gpu-name`; on AKS and elsewhere, NVIDIA GPU feature discovery
 * (part of the GPU operator) labels `nvidia.com/gpu.product`.
 */
export function gpuNodeSelector(provider: DeployConfig['provider'], type: string): Record<string, string> {
  const known = GPU_TYPES[type];
  switch (provider) {
    case 'gke':
      return { 'cloud.google.com/gke-accelerator': known?.gke ?? type };
    case 'eks':
      return { 'karpenter.k8s.aws/instance-gpu-name': known?.eks ?? type.replace(/^nvidia-/, '') };
    case 'aks':
      return { 'nvidia.com/gpu.product': known?.aks ?? type };
    case 'generic':
      return { 'nvidia.com/gpu.product': known?.gpuProduct ?? type };
  }
}

/** The GKE node auto-provisioning resource type of a GPU (`nvidia-tesla-t4`, `nvidia-l4`, …). */
export function gkeAcceleratorName(type: string): string {
  return GPU_TYPES[type]?.gke ?? type;
}

/** Maps a GPU name as nvidia-smi reports it (`NVIDIA L4`, `Tesla T4`) to a deploy.gpu.type, or null. */
export function gpuTypeFromName(name: string): string | null {
  const normalized = name.toLowerCase().replace(/^nvidia\s+/, '').replace(/^tesla\s+/, '');
  if (/^t4\b/.test(normalized)) return 'nvidia-t4';
  if (/^l4\b/.test(normalized)) return 'nvidia-l4';
  if (/^a10g\b/.test(normalized)) return 'nvidia-a10g';
  if (/^v100\b/.test(normalized)) return 'nvidia-v100';
  if (/^a100\b/.test(normalized)) return /80\s*gb/.test(normalized) ? 'nvidia-a100-80gb' : 'nvidia-a100-40gb';
  if (/^h100\b/.test(normalized)) return 'nvidia-h100-80gb';
  return null;
}
