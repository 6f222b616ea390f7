import { LlmopsError } from '../../errors.js';
import { which, runPlan, type CommandPlan } from '../../proc/exec.js';
import { containerName, dockerRunPlan, runContainer, type DockerRunSpec } from '../../proc/docker.js';
import { OPTIMUM_DECODERS, OPTIMUM_OPTIMIZABLE, modelType } from '../architectures.js';
import { CausalLM } from '../../engine/index.js';
import type { Backend, BackendContext, BackendResult, CompileStep } from '../types.js';

/** Pinned: optimum's CLI flags and exporter behaviour change between releases. */
export const OPTIMUM_VERSION = '1.24.0';
export const OPTIMUM_DEFAULT_IMAGE = 'python:3.11-slim-bookworm';

/** The `optimum-cli export onnx` arguments for a build (the same on the host and in the container). */
export function optimumArgs(context: BackendContext, paths: { source: string; out: string }): string[] {
  const { options } = context;
  const args = [
    'export',
    'onnx',
    '--model',
    paths.source,
    '--task',
    options.task,
    '--device',
    options.device,
    '--dtype',
    options.precision,
  ];
  if (options.opset) args.push('--opset', String(options.opset));
  if (options.optimize) args.push('--optimize', options.optimize);
  args.push(paths.out);
  return args;
}

async function steps(context: BackendContext): Promise<CompileStep[]> {
  const host = context.options.image ? null : await which('optimum-cli');
  if (host) {
    const plan: CommandPlan = {
      name: 'optimum-export',
      file: 'optimum-cli',
      argv: optimumArgs(context, { source: context.sourceDir, out: context.workDir }),
    };
    return [{ name: plan.name, kind: 'command', plan }];
  }
  // No optimum-cli on this machine: run the pinned optimum in a container, mounting only the source (read-only)
  // and the output directory.
  const cli = ['optimum-cli', ...optimumArgs(context, { source: '/model', out: '/out' })];
  const spec: DockerRunSpec = {
    name: 'optimum-export',
    image: context.options.image ?? OPTIMUM_DEFAULT_IMAGE,
    containerName: containerName('optimum', context.outDir),
    mounts: [
      { source: context.sourceDir, target: '/model', readOnly: true },
      { source: context.workDir, target: '/out' },
    ],
    env: { HOME: '/tmp', PIP_NO_CACHE_DIR: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    ...(context.options.device === 'cuda' ? { gpus: 'all' as const } : {}),
    entrypoint: 'sh',
    args: [
      '-c',
      `pip install --quiet --user 'optimum[exporters]==${OPTIMUM_VERSION}' && PATH=$HOME/.local/bin:$PATH exec "$@"`,
      'optimum',
      ...cli,
    ],
  };
  return [{ name: spec.name, kind: 'docker', spec, plan: dockerRunPlan(spec) }];
}

/**
 * Optimum reports accuracy problems of the export as warnings and still exits 0 ("The maximum absolute difference
 * between the output of the reference model and the ONNX exported model is not within the set tolerance"). Here they
 * fail the build: a model that doesn't match its source must not ship.
 */
export function accuracyProblems(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => /not within the set tolerance|max diff|maximum absolute difference|shape mismatch/i.test(line))
    .map((line) => line.trim());
}

export const optimumBackend: Backend = {
  name: 'optimum',

  unsupported(config, options) {
    const type = modelType(config);
    if (!type) return 'the source has no config.json with model_type: optimum exports transformers checkpoints';
    if (options.task.startsWith('text-generation') && !OPTIMUM_DECODERS.has(type))
      return `optimum ${OPTIMUM_VERSION} cannot export model_type ${type} for ${options.task}`;
    if (options.optimize && !OPTIMUM_OPTIMIZABLE.has(type))
      return `--optimize ${options.optimize} is not available for model_type ${type} (ONNX Runtime's optimizer supports ${[...OPTIMUM_OPTIMIZABLE].join(', ')})`;
    if (options.optimize && !/^O[1-4]$/.test(options.optimize))
      return `--optimize for optimum must be O1, O2, O3 or O4, got ${options.optimize}`;
    if (options.precision === 'int8') return 'optimum export has no int8 dtype; quantize after export';
    if (options.precision === 'fp16' && options.device !== 'cuda')
      return 'optimum exports fp16 only with --device cuda';
    return null;
  },

  plan: steps,

  async run(context): Promise<BackendResult> {
    const [step] = await steps(context);
    let output = '';
    const collect = (chunk: string) => {
      output += chunk;
      context.options.onProgress?.(chunk.trimEnd().split('\n').pop() ?? '');
    };
    const runOptions = {
      ...(context.options.signal ? { signal: context.options.signal } : {}),
      onStderr: collect,
      onStdout: collect,
    };
    if (step!.kind === 'docker') await runContainer(step!.spec, runOptions);
    else if (step!.kind === 'command') await runPlan(step!.plan, runOptions);
    const problems = accuracyProblems(output);
    if (problems.length > 0) {
      throw new LlmopsError(`optimum's export does not match the PyTorch model: ${problems[0]}`, 'VALIDATION_FAILED', {
        hint: 'optimum exits 0 on accuracy warnings; llmops refuses the artifact. Try --precision fp32 or another --opset',
        details: { problems },
      });
    }
    // The exported directory must run in llmops's own engine, or bench/scaffold would fail later.
    const lm = await CausalLM.load({ dir: context.workDir });
    const generation = await lm.generate('Hello', { maxTokens: 4 });
    await lm.dispose();
    return {
      tools: { optimum: OPTIMUM_VERSION, ...(step!.kind === 'docker' ? { image: step!.spec.image } : {}) },
      hardware: { portable: context.options.device === 'cpu', device: context.options.device, gpu: null },
      validation: {
        passed: true,
        method: 'optimum export validation (no tolerance warnings) + generation in the llmops engine',
        generatedTokens: generation.tokenIds.length,
      },
      options: {
        optimize: context.options.optimize ?? null,
        opset: context.options.opset ?? null,
        runner: step!.kind === 'docker' ? 'docker' : 'host',
      },
      warnings: [],
    };
  },
};
