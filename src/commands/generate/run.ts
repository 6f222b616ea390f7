import type { CommandContext } from '../context.js';
import type { GenerateCommandOptions } from './command.js';
import { CausalLM } from '../../engine/index.js';
import { resolveModel } from '../../model/resolve.js';
import { InterruptedError } from '../../errors.js';

export async function runGenerate(
  ctx: CommandContext,
  options: GenerateCommandOptions,
  modelArgument: string | undefined,
): Promise<void> {
  const { config } = await ctx.config();
  const model = await resolveModel(modelArgument, config);
  const spinner = await ctx.output.spinner(
    `loading ${model.source === 'embedded' ? 'the embedded tiny model' : model.dir}`,
  );
  let lm: CausalLM;
  try {
    lm = await CausalLM.load({
      dir: model.dir,
      provider: options.provider ?? config.engine.provider,
      dtype: options.dtype ?? model.dtype,
      threads: options.threads ?? config.engine.threads,
    });
  } finally {
    spinner.stop();
  }
  ctx.output.debug(`loaded ${lm.files.onnxPath} (${lm.files.layout} layout) in ${lm.loadMs.toFixed(0)} ms`);

  const settings = config.generate;
  const generation = await lm.generate(
    options.prompt,
    {
      maxTokens: options.maxTokens ?? settings.maxTokens,
      temperature: options.temperature ?? settings.temperature,
      topP: options.topP ?? settings.topP,
      topK: options.topK ?? settings.topK,
      stop: options.stop ?? settings.stop,
      seed: options.seed ?? settings.seed,
      signal: ctx.signal,
    },
    (delta) => ctx.output.write(delta),
  );
  await lm.dispose();
  if (generation.finishReason === 'cancelled') throw new InterruptedError();

  ctx.output.result(
    {
      text: generation.text,
      tokenIds: generation.tokenIds,
      promptTokens: generation.promptTokens,
      finishReason: generation.finishReason,
      ttftMs: round(generation.ttftMs),
      tokensPerSecond: round(generation.tokensPerSecond),
    },
    () => '',
  );
  if (!ctx.output.json) {
    ctx.output.write('\n');
    ctx.output.info(
      ctx.output.style(
        'dim',
        `${generation.tokenIds.length} tokens (${generation.finishReason}) · TTFT ${generation.ttftMs.toFixed(1)} ms · ${generation.tokensPerSecond.toFixed(1)} tokens/s`,
      ),
    );
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
