import { LlmopsError } from '../../errors.js';
import { containerName, dockerRunPlan, runContainer, type DockerRunSpec } from '../../proc/docker.js';
import { TRTLLM_CONVERTERS, decoderDimensions, modelType } from '../architectures.js';
import type { Backend, BackendContext, BackendResult, CompileStep } from '../types.js';

/**
 * The legacy engine flow of TensorRT-LLM (convert_checkpoint.py + trtllm-build). Current TensorRT-LLM compiles at
 * serve time (`trtllm-serve`, see `llmops scaffold --template trtllm`); this stays for pipelines that ship engines.
 */
export const TRTLLM_VERSION = '0.20.0';
export const TRTLLM_DEFAULT_IMAGE = `nvcr.io/nvidia/tensorrt-llm/release:${TRTLLM_VERSION}`;

const DTYPES = { fp16: 'float16', bf16: 'bfloat16', fp32: 'float32' } as const;

function specs(context: BackendContext): DockerRunSpec[] {
  const converter = TRTLLM_CONVERTERS[modelType(context.config)!]!;
  const dims = decoderDimensions(context.config!)!;
  const dtype = DTYPES[context.options.precision as keyof typeof DTYPES];
  const common = {
    image: context.options.image ?? TRTLLM_DEFAULT_IMAGE,
    gpus: 'all' as const,
    ipcHost: true,
    mounts: [
      { source: context.sourceDir, target: '/model', readOnly: true },
      { source: context.workDir, target: '/out' },
    ],
    env: { HOME: '/tmp' },
  };
  const convert: DockerRunSpec = {
    ...common,
    name: 'trtllm-convert',
    containerName: containerName('trtllm-convert', context.outDir),
    args: [
      'python3',
      `/app/tensorrt_llm/examples/models/core/${converter}/convert_checkpoint.py`,
      '--model_dir',
      '/model',
      '--output_dir',
      '/out/checkpoint',
      '--dtype',
      dtype,
    ],
  };
  const maxSeq = Math.min(dims.maxPositions, 8192);
  const build: DockerRunSpec = {
    ...common,
    name: 'trtllm-build',
    containerName: containerName('trtllm-build', context.outDir),
    args: [
      'trtllm-build',
      '--checkpoint_dir',
      '/out/checkpoint',
      '--output_dir',
      '/out/engine',
      '--gemm_plugin',
      'auto',
      '--max_batch_size',
      '16',
      '--max_input_len',
      String(Math.floor(maxSeq / 2)),
      '--max_seq_len',
      String(maxSeq),
    ],
  };
  return [convert, build];
}

export const tensorrtLlmBackend: Backend = {
  name: 'tensorrt-llm',

  unsupported(config, options) {
    const type = modelType(config);
    if (!type) return 'TensorRT-LLM converts transformers checkpoints: the source needs a config.json with model_type';
    if (!TRTLLM_CONVERTERS[type])
      return `TensorRT-LLM ${TRTLLM_VERSION} has no checkpoint converter for model_type ${type} (supported: ${Object.keys(TRTLLM_CONVERTERS).sort().join(', ')})`;
    if (!decoderDimensions(config!)) return 'config.json lacks the layer/head sizes';
    if (options.device !== 'cuda') return 'TensorRT-LLM builds for an NVIDIA GPU (--device cuda)';
    if (options.precision === 'int8')
      return 'int8 weight-only quantization needs --use_weight_only; build with fp16 or bf16';
    return null;
  },

  async plan(context): Promise<CompileStep[]> {
    return specs(context).map((spec) => ({ name: spec.name, kind: 'docker', spec, plan: dockerRunPlan(spec) }));
  },

  async run(context): Promise<BackendResult> {
    const runOptions = {
      ...(context.options.signal ? { signal: context.options.signal } : {}),
      onStderr: (c: string) => context.options.onProgress?.(c.trimEnd()),
    };
    for (const spec of specs(context)) await runContainer(spec, runOptions);
    const [, build] = specs(context);
    if (!build) throw new LlmopsError('internal: no build step', 'INTERNAL');
    return {
      tools: { 'tensorrt-llm': TRTLLM_VERSION, image: build.image },
      hardware: { portable: false, device: 'cuda', gpu: null },
      validation: { passed: true, method: 'trtllm-build completed (engine serialized)' },
      options: { flow: 'legacy engine (convert_checkpoint.py + trtllm-build)', precision: context.options.precision },
      warnings: [
        'the engine flow is legacy: current TensorRT-LLM compiles at serve time (llmops scaffold --template trtllm)',
      ],
    };
  },
};
