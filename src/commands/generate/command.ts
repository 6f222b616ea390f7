import { Command, Option } from 'commander';
import type { GenerateOptions, LoadModelOptions } from '../../engine/index.js';
import { EXECUTION_PROVIDERS } from '../../engine/session.js';
import { action } from '../context.js';
import {
  collect,
  integer,
  nonNegativeInt,
  nonNegativeNumber,
  penalty,
  positiveInt,
  positiveNumber,
  probability,
} from '../flag-parsers.js';

/** The generate flags: the prompt, then the engine's own generation and load options of the same names. */
export type GenerateFlags = { prompt: string } & Pick<
  GenerateOptions,
  | 'maxTokens'
  | 'temperature'
  | 'topP'
  | 'topK'
  | 'presencePenalty'
  | 'frequencyPenalty'
  | 'repetitionPenalty'
  | 'seed'
  | 'stop'
> &
  Pick<LoadModelOptions, 'provider' | 'dtype' | 'threads'>;

export function generateCommand(): Command {
  return new Command('generate')
    .description('generate text with a causal LM (ONNX, Optimum or transformers.js layout), streaming to stdout')
    .argument('[model]', 'model directory or llmops artifact (default: the embedded tiny model)')
    .requiredOption('-p, --prompt <text>', 'the prompt')
    .option('-n, --max-tokens <n>', 'maximum new tokens (default 64)', positiveInt)
    .option('-t, --temperature <t>', 'sampling temperature; 0 is greedy (default 0)', nonNegativeNumber)
    .option('--top-p <p>', 'nucleus sampling probability mass (default 1)', probability)
    .option('--top-k <k>', 'sample from the k most likely tokens; 0 is off (default 0)', nonNegativeInt)
    .option(
      '--repetition-penalty <r>',
      'divide (multiply, if negative) the logits of tokens in the prompt or output by r; 1 is off (default 1)',
      positiveNumber,
    )
    .option(
      '--presence-penalty <p>',
      'subtract p from the logits of tokens already generated, -2 to 2 (default 0)',
      penalty,
    )
    .option(
      '--frequency-penalty <f>',
      'subtract f per time a token was generated from its logit, -2 to 2 (default 0)',
      penalty,
    )
    .option('--seed <s>', 'random seed for sampling', integer)
    .option('--stop <str>', 'stop when this string is generated (repeatable)', collect)
    .addOption(
      new Option('--provider <name>', 'ONNX Runtime execution provider (default cpu)').choices(EXECUTION_PROVIDERS),
    )
    .option('--dtype <dtype>', 'ONNX variant in transformers.js layout, e.g. fp16, q8 (onnx/model_<dtype>.onnx)')
    .option(
      '--threads <n>',
      'ONNX Runtime intra-op threads (default: physical cores within the CPU quota)',
      positiveInt,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ llmops generate --prompt "Once upon a time" --max-tokens 32\n  $ llmops generate ./models/gpt2-onnx -p "Hello" --temperature 0.8 --seed 7 --json\n',
    )
    .action(
      action<GenerateFlags, [string | undefined]>(async (ctx, options, model) => {
        const { runGenerate } = await import('./action.js');
        await runGenerate(ctx, options, model);
      }),
    );
}
