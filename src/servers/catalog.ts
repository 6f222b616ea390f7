/**
 * The model servers llmops scaffolds and deploys, one entry each: the pinned image, how its image starts it, and the
 * command line that points it at a model. Scaffold (compose files) and deploy (Kubernetes) both build the server's
 * argv here, so the two can never disagree; `checkServerArgv` checks that argv against the flags the server's own
 * parser declares at the pinned version (src/servers/contracts/, extracted from its source).
 */

export const SERVER_TEMPLATES = ['node', 'fastapi', 'vllm', 'tgi', 'trtllm', 'triton'] as const;
export type ServerTemplate = (typeof SERVER_TEMPLATES)[number];
/** Upstream servers whose command line llmops writes (node and fastapi read the environment instead). */
export type UpstreamServer = 'vllm' | 'tgi' | 'trtllm' | 'triton';

/** Pinned images: engine flags, routes and metrics change between releases, so each is read at one version. */
export const SERVER_IMAGES: Record<UpstreamServer, string> = {
  vllm: 'vllm/vllm-openai:v0.11.0',
  tgi: 'ghcr.io/huggingface/text-generation-inference:3.3.6',
  trtllm: 'nvcr.io/nvidia/tensorrt-llm/release:1.0.0',
  triton: 'nvcr.io/nvidia/tritonserver:25.01-py3',
};

/** Where the server's model comes from: a directory in the pod, or a Hub repo the server downloads itself. */
export type ModelSource = { kind: 'path'; path: string } | { kind: 'hub'; id: string; revision: string };

export interface ServerArgvInput {
  model: ModelSource;
  port: number;
  /** The name clients send as `model` (OpenAI APIs). */
  servedName: string;
  /** GPUs per replica: the tensor-parallel degree. */
  gpus: number;
  /** How long the server may finish in-flight requests after SIGTERM, where it has a flag for that. */
  shutdownSeconds?: number | undefined;
  /** Appended as given (`serve.extraArgs`). */
  extraArgs?: readonly string[] | undefined;
}

/** How llmops runs a server: its argv prefix, start-up floor, cache roots and API key (probes and metrics: deploy/facts.ts). */
export interface ServerProfile {
  /**
   * Words before the flags in `args`. vLLM's and TGI's images start the server themselves; NVIDIA's keep their
   * entrypoint script (it sets up CUDA's environment and execs its arguments), so the program is the first argument
   * rather than the container's command.
   */
  argsPrefix: string[];
  /** Whether the server downloads a Hub repo at a pinned revision itself (storage strategy `hub`). */
  downloadsFromHub: boolean;
  /** Least time a cold pod of this server takes to serve (image pull, weights, CUDA graphs, kernels). */
  startupFloorSeconds: number;
  /** Environment variables pointing the server's own caches at the writable cache volume (relative to it). */
  cacheEnv: Record<string, string>;
  /** The environment variable the server reads its API key from, when it has one. */
  apiKeyEnv: string | null;
}

export const SERVERS: Record<ServerTemplate, ServerProfile> = {
  node: { argsPrefix: [], downloadsFromHub: false, startupFloorSeconds: 60, cacheEnv: {}, apiKeyEnv: null },
  fastapi: { argsPrefix: [], downloadsFromHub: false, startupFloorSeconds: 120, cacheEnv: {}, apiKeyEnv: null },
  vllm: {
    argsPrefix: [],
    downloadsFromHub: true,
    // Weights, then torch.compile and CUDA-graph capture for every batch size: minutes on a cold node.
    startupFloorSeconds: 600,
    // vLLM puts torch.compile's and Triton's kernel caches under VLLM_CACHE_ROOT itself.
    cacheEnv: { VLLM_ASSETS_CACHE: 'vllm/assets', VLLM_CACHE_ROOT: 'vllm', VLLM_CONFIG_ROOT: 'vllm-config' },
    apiKeyEnv: 'VLLM_API_KEY',
  },
  tgi: {
    argsPrefix: [],
    downloadsFromHub: true,
    // The launcher downloads, converts to safetensors when needed, and warms up the batch sizes before /health answers.
    startupFloorSeconds: 600,
    // The image points both at root-owned /data and /kernels.
    cacheEnv: { HF_KERNELS_CACHE: 'kernels' },
    apiKeyEnv: 'API_KEY',
  },
  trtllm: {
    argsPrefix: ['trtllm-serve'],
    downloadsFromHub: true,
    startupFloorSeconds: 900,
    cacheEnv: {},
    apiKeyEnv: null,
  },
  triton: {
    argsPrefix: ['tritonserver'],
    downloadsFromHub: false,
    startupFloorSeconds: 300,
    cacheEnv: {},
    apiKeyEnv: null,
  },
};

/** Triton serves metrics on a port of its own. */
export const TRITON_METRICS_PORT = 8002;

/** The server's flags (after `argsPrefix`) that serve the model given, derived rather than written by hand. */
export function serverArgv(template: UpstreamServer, input: ServerArgvInput): string[] {
  const { model, port, servedName, gpus } = input;
  const extra = input.extraArgs ?? [];
  switch (template) {
    case 'vllm':
      // The image runs the API server module, which takes the model as --model (its positional is ignored).
      return [
        '--model',
        model.kind === 'hub' ? model.id : model.path,
        ...(model.kind === 'hub' ? ['--revision', model.revision] : []),
        '--served-model-name',
        servedName,
        '--host',
        '0.0.0.0',
        '--port',
        String(port),
        '--tensor-parallel-size',
        String(gpus),
        ...extra,
      ];
    case 'tgi':
      return [
        '--model-id',
        model.kind === 'hub' ? model.id : model.path,
        ...(model.kind === 'hub' ? ['--revision', model.revision] : []),
        '--hostname',
        '0.0.0.0',
        '--port',
        String(port),
        '--num-shard',
        String(gpus),
        ...extra,
      ];
    case 'trtllm':
      return [
        model.kind === 'hub' ? model.id : model.path,
        ...(model.kind === 'hub' ? ['--revision', model.revision] : []),
        '--host',
        '0.0.0.0',
        '--port',
        String(port),
        '--backend',
        'pytorch',
        '--tp_size',
        String(gpus),
        ...extra,
      ];
    case 'triton':
      if (model.kind === 'hub') throw new Error('triton serves a model repository directory, not a Hub id');
      return [
        `--model-repository=${model.path}`,
        `--http-port=${port}`,
        `--metrics-port=${TRITON_METRICS_PORT}`,
        ...(input.shutdownSeconds !== undefined ? [`--exit-timeout-secs=${input.shutdownSeconds}`] : []),
        ...extra,
      ];
  }
}

export function isUpstreamServer(template: ServerTemplate): template is UpstreamServer {
  return template !== 'node' && template !== 'fastapi';
}
