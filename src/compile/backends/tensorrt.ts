import { copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { LlmopsError } from '../../errors.js';
import { containerName, dockerRunPlan, runContainer, type DockerRunSpec } from '../../proc/docker.js';
import { parseGpuQuery, GPU_QUERY_FIELDS } from '../../proc/nvidia-smi.js';
import {
  parseShapes,
  parseTensorrtVersion,
  TENSORRT_DEFAULT_IMAGE,
  TENSORRT_DEFAULT_MAJOR,
  trtexecBuildArgs,
  type DimRange,
} from '../../proc/trtexec.js';
import { decoderDimensions } from '../architectures.js';
import type { Backend, BackendContext, BackendResult, CompileStep } from '../types.js';

/** Decoder-with-past profile: batch, new tokens and past length ranges, from --shapes or config.json. */
export function decoderProfile(context: BackendContext): Record<string, Array<number | DimRange>> {
  const dims = decoderDimensions(context.config ?? {});
  if (!dims)
    throw new LlmopsError('config.json lacks the layer/head sizes needed for TensorRT profiles', 'CONFIG_INCOMPLETE', {
      exitCode: 2,
    });
  const given = context.options.shapes ? parseShapes(context.options.shapes) : {};
  const maxContext = Math.min(dims.maxPositions, 4096);
  const batch = given.batch ?? { min: 1, opt: 4, max: 16 };
  const seq = given.seq ?? { min: 1, opt: Math.min(128, maxContext / 4), max: Math.min(512, maxContext / 2) };
  // Prompt plus past never exceeds the model's context.
  const past = given.past ?? { min: 0, opt: Math.min(128, maxContext / 4), max: maxContext - seq.max };
  const total = { min: past.min + seq.min, opt: past.opt + seq.opt, max: past.max + seq.max };
  const profile: Record<string, Array<number | DimRange>> = {
    input_ids: [batch, seq],
    attention_mask: [batch, total],
    position_ids: [batch, seq],
  };
  for (let layer = 0; layer < dims.layers; layer += 1) {
    profile[`past_key_values.${layer}.key`] = [batch, dims.kvHeads, past, dims.headDim];
    profile[`past_key_values.${layer}.value`] = [batch, dims.kvHeads, past, dims.headDim];
  }
  return profile;
}

function containerSpec(context: BackendContext, name: string, args: string[]): DockerRunSpec {
  return {
    name,
    image: context.options.image ?? TENSORRT_DEFAULT_IMAGE,
    containerName: containerName(name, context.outDir),
    gpus: 'all',
    mounts: [
      { source: context.sourceDir, target: '/model', readOnly: true },
      { source: context.workDir, target: '/out' },
    ],
    workdir: '/out',
    args,
  };
}

function buildSteps(context: BackendContext, tensorrtMajor: number): CompileStep[] {
  const probe = containerSpec(context, 'gpu-probe', [
    'nvidia-smi',
    `--query-gpu=${GPU_QUERY_FIELDS.join(',')}`,
    '--format=csv,noheader,nounits',
  ]);
  const build = containerSpec(context, 'trtexec-build', [
    'trtexec',
    ...trtexecBuildArgs({
      onnx: '/model/model.onnx',
      engine: '/out/model.plan',
      profile: decoderProfile(context),
      precision: context.options.precision,
      tensorrtMajor,
      timingCache: '/out/timing.cache',
    }),
  ]);
  return [probe, build].map((spec) => ({ name: spec.name, kind: 'docker' as const, spec, plan: dockerRunPlan(spec) }));
}

export const tensorrtBackend: Backend = {
  name: 'tensorrt',

  unsupported(config, options) {
    if (options.device !== 'cuda') return 'TensorRT engines are built on and for an NVIDIA GPU (--device cuda)';
    if (!config || !decoderDimensions(config))
      return 'the source needs a config.json with layer and head sizes (a decoder exported to ONNX, e.g. by --backend optimum)';
    return null;
  },

  async plan(context) {
    return buildSteps(context, context.options.tensorrtMajor ?? TENSORRT_DEFAULT_MAJOR);
  },

  async run(context): Promise<BackendResult> {
    if (!(await readdir(context.sourceDir)).includes('model.onnx')) {
      throw new LlmopsError(`${context.sourceDir} has no model.onnx: TensorRT builds from ONNX`, 'MODEL_NOT_FOUND', {
        exitCode: 2,
        hint: 'export first: llmops compile --backend optimum --device cuda --precision fp16',
      });
    }
    const runOptions = {
      ...(context.options.signal ? { signal: context.options.signal } : {}),
      onStderr: (c: string) => context.options.onProgress?.(c.trimEnd()),
    };
    const [probe, build] = buildSteps(context, context.options.tensorrtMajor ?? TENSORRT_DEFAULT_MAJOR) as [
      CompileStep & { kind: 'docker' },
      CompileStep & { kind: 'docker' },
    ];
    const gpu = parseGpuQuery((await runContainer(probe.spec, runOptions)).stdout)[0] ?? null;
    let log = '';
    const result = await runContainer(build.spec, { ...runOptions, onStdout: (chunk) => (log += chunk) });
    log += result.stdout;
    const tensorrt = parseTensorrtVersion(log) ?? 'unknown';
    if (
      tensorrt !== 'unknown' &&
      Number(tensorrt.split('.')[0]) !== (context.options.tensorrtMajor ?? TENSORRT_DEFAULT_MAJOR)
    ) {
      throw new LlmopsError(
        `the image has TensorRT ${tensorrt}, but the flags were chosen for TensorRT ${context.options.tensorrtMajor ?? TENSORRT_DEFAULT_MAJOR}`,
        'TENSORRT_VERSION_MISMATCH',
        {
          exitCode: 2,
          hint: `set compile.tensorrtMajor: ${tensorrt.split('.')[0]} in llmops.yaml for this image`,
        },
      );
    }
    for (const name of await readdir(context.sourceDir)) {
      if (name.endsWith('.json') && name !== 'llmops.json')
        await copyFile(path.join(context.sourceDir, name), path.join(context.workDir, name));
    }
    return {
      tools: { tensorrt, image: build.spec.image },
      hardware: { portable: false, device: 'cuda', gpu },
      validation: { passed: true, method: 'trtexec build and engine deserialization (--skipInference)' },
      options: {
        profile: decoderProfile(context),
        precision: context.options.precision,
        tensorrtMajor: context.options.tensorrtMajor ?? TENSORRT_DEFAULT_MAJOR,
      },
      warnings: [
        'TensorRT engines run only on the GPU architecture and TensorRT version they were built with (recorded in llmops.json)',
      ],
    };
  },
};
