import { CausalLM } from '../../engine/index.js';
import { InterruptedError } from '../../errors.js';
import { resolveModel } from '../../model/resolve.js';
import type { CommandContext } from '../context.js';
import { precedence } from '../precedence.js';
import type { GenerateFlags } from './command.js';
import { generationDocument, generationSummary } from './print.js';

/** `llmops generate`: load the model (flags over config `engine:`), stream the text, then the document or a summary. */
export async function runGenerate(
  ctx: CommandContext,
  flags: GenerateFlags,
  modelArgument: string | undefined,
): Promise<void> {
  const { config } = await ctx.config();
  const model = await resolveModel(modelArgument, config);
  const { prompt, provider, threads, dtype, ...sampling } = flags;
  const spinner = await ctx.output.spinner(
    `loading ${model.source === 'embedded' ? 'the embedded tiny model' : model.dir}`,
  );
  let lm: CausalLM;
  try {
    lm = await CausalLM.load({
      dir: model.dir,
      ...precedence({ provider, threads }, config.engine),
      dtype: dtype ?? model.dtype,
    });
  } finally {
    spinner.stop();
  }
  ctx.output.debug(`loaded ${lm.files.onnxPath} (${lm.files.layout} layout) in ${lm.loadMs.toFixed(0)} ms`);

  const generation = await lm.generate(
    prompt,
    { ...precedence(sampling, config.generate), signal: ctx.signal },
    (delta) => ctx.output.write(delta),
  );
  await lm.dispose();
  if (generation.finishReason === 'cancelled') throw new InterruptedError();

  // The text has streamed already: the document is for --json, the summary line for a reader.
  ctx.output.result(generationDocument(generation), () => '');
  if (!ctx.output.json) {
    ctx.output.write('\n');
    ctx.output.info(ctx.output.style('dim', generationSummary(generation)));
  }
}
