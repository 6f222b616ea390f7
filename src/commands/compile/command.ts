import { Command, Option } from 'commander';
import { COMPILE_BACKENDS, DEVICES, PRECISIONS } from '../../artifact/compile-choices.js';
import type { CompileOptions } from '../../compile/types.js';
import { action } from '../context.js';
import { positiveInt } from '../flag-parsers.js';

/** The compile flags: each is the library option of the same name, every one optional (config and defaults fill in). */
export type CompileFlags = Partial<
  Pick<
    CompileOptions,
    | 'model'
    | 'revision'
    | 'backend'
    | 'task'
    | 'precision'
    | 'optimize'
    | 'shapes'
    | 'image'
    | 'device'
    | 'opset'
    | 'out'
    | 'force'
    | 'dryRun'
  >
>;

export function compileCommand(): Command {
  return new Command('compile')
    .description(
      'compile a model (ONNX Runtime, Optimum, TensorRT, TensorRT-LLM) into an artifact with an llmops.json manifest',
    )
    .option(
      '-m, --model <id|path>',
      'Hub id or local directory (default: config `model`, else the embedded tiny model)',
    )
    .option('--revision <rev>', 'Hub branch, tag or commit (resolved to a commit sha and recorded)')
    .addOption(
      new Option('-b, --backend <name>', 'compiler backend (default: config compile.backend, else ort)').choices(
        COMPILE_BACKENDS,
      ),
    )
    .option('--task <task>', 'export task (default text-generation-with-past)')
    .addOption(new Option('--precision <p>', 'weights/activations precision').choices(PRECISIONS))
    .option('--optimize <level>', 'ort: disabled|basic|extended|all (default basic, portable); optimum: O1-O4')
    .option('--shapes <spec>', 'TensorRT profile, e.g. batch=1:4:16,seq=1:128:512,past=0:128:1023')
    .option('--image <image>', 'container image for optimum / tensorrt / tensorrt-llm')
    .addOption(new Option('--device <device>', 'build for cpu or cuda').choices(DEVICES))
    .option('--opset <n>', 'ONNX opset for optimum exports', positiveInt)
    .option('-o, --out <dir>', 'output directory (default artifacts/<name>-<backend>)')
    .option('-f, --force', 'replace an existing output directory')
    .option('--dry-run', 'print the exact commands and run nothing')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ llmops compile --backend ort --out artifacts/tiny-ort',
        '  $ llmops compile --model Qwen/Qwen2.5-0.5B-Instruct --backend optimum --dry-run',
        '  $ llmops compile --model ./onnx/llama --backend tensorrt --precision fp16 --shapes batch=1:4:8 --json',
        '',
      ].join('\n'),
    )
    .action(
      action<CompileFlags>(async (ctx, options) => {
        const { runCompile } = await import('./action.js');
        await runCompile(ctx, options);
      }),
    );
}
