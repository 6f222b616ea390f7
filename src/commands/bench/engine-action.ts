import type { EngineBenchOptions, EngineBenchProgress, EngineBenchResult } from '../../bench/engine/types.js';
import type { GateResult } from '../../bench/gate.js';
import { ExitCode, VerdictError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { precedence } from '../precedence.js';
import type { EngineBenchFlags } from './engine-flags.js';

/**
 * `llmops bench TARGET` for a model: flags (over config) → benchEngine → table or JSON → --out/--csv → gate.
 * A failed gate is a VerdictError thrown after the results and the gate's table are printed: exit 3, one document.
 */
export async function runEngineBench(
  ctx: CommandContext,
  flags: EngineBenchFlags,
  target: string | undefined,
): Promise<void> {
  const [{ benchEngine }, { parseShapes }, print, { renderGate, gateFailure }, { assertWritable, writeResultsFile }] =
    await Promise.all([
      import('../../bench/engine/run.js'),
      import('../../bench/engine/inputs.js'),
      import('./engine-print.js'),
      import('./gate-print.js'),
      import('../../bench/results-file.js'),
    ]);
  const { config } = await ctx.config();
  // No target: `model` from llmops.yaml (or LLMOPS_MODEL), else benchEngine's embedded model.
  let dtype = flags.dtype;
  if (target === undefined && config.model !== undefined) {
    const { resolveModel } = await import('../../model/resolve.js');
    const resolved = await resolveModel(undefined, config);
    target = resolved.dir;
    dtype ??= resolved.dtype;
  }
  const engine = precedence({ provider: flags.provider, threads: flags.threads }, config.engine);
  const gpuPricePerHour = flags.gpuPrice ?? config.bench.gpuPricePerHour;
  const options: EngineBenchOptions = {
    ...(target !== undefined ? { target } : {}),
    provider: engine.provider,
    ...(engine.threads ? { threads: engine.threads } : {}),
    ...(config.engine.spinWait === undefined ? {} : { spinWait: config.engine.spinWait }),
    ...(flags.batch ? { batch: flags.batch } : {}),
    ...(flags.promptTokens ? { promptTokens: flags.promptTokens } : {}),
    ...(flags.genTokens !== undefined ? { genTokens: flags.genTokens } : {}),
    ...(flags.iterations !== undefined ? { iterations: flags.iterations } : {}),
    ...(flags.duration !== undefined ? { durationMs: flags.duration } : {}),
    ...(flags.warmup !== undefined ? { warmup: flags.warmup } : {}),
    ...(flags.shape?.length ? { shapes: parseShapes(flags.shape) } : {}),
    ...(flags.inputs ? { inputs: flags.inputs } : {}),
    ...(dtype ? { dtype } : {}),
    ...(flags.kvCache ? { kvCache: flags.kvCache } : {}),
    ...(flags.prefillChunkTokens !== undefined ? { prefillChunkTokens: flags.prefillChunkTokens } : {}),
    ...(gpuPricePerHour !== undefined ? { gpuPricePerHour } : {}),
    ...(flags.tensorrtImage ? { tensorrtImage: flags.tensorrtImage } : {}),
    signal: ctx.signal,
  };
  const gateModule = flags.baseline ? await import('../../bench/gate.js') : undefined;
  if (flags.baseline) await gateModule!.readBaseline(flags.baseline);
  await assertWritable(flags.out, { force: flags.force, flag: '--out' });
  await assertWritable(flags.csv, { force: flags.force, flag: '--csv' });

  // On a TTY a spinner follows every iteration; in CI logs only loads and finished configurations get a line.
  const spinner = ctx.output.interactive ? await ctx.output.spinner('benchmarking') : undefined;
  options.onProgress = (event: EngineBenchProgress) => {
    if (spinner) spinner.update(progressText(event));
    else if (event.phase === 'load' || event.phase === 'config-done') ctx.output.info(progressText(event));
  };
  let result: EngineBenchResult;
  try {
    result = await benchEngine(options);
    spinner?.stop();
  } catch (error) {
    spinner?.stop();
    throw error;
  }

  // Results are saved before the gate runs, so a CI job keeps them whatever the verdict.
  if (flags.out)
    await writeResultsFile(flags.out, `${JSON.stringify(result, null, 2)}\n`, { force: flags.force, flag: '--out' });
  if (flags.csv)
    await writeResultsFile(flags.csv, print.engineResultCsv(result), { force: flags.force, flag: '--csv' });
  let gate: GateResult | undefined;
  if (flags.baseline && gateModule) {
    const baseline = await gateModule.loadBaseline(flags.baseline, result);
    gate = gateModule.compareToBaseline(result, baseline, {
      maxRegression: flags.maxRegression ?? config.bench.maxRegression,
    });
  }
  const document = gate ? { ...result, gate } : result;

  ctx.output.result(document, () =>
    [
      print.renderEngineResult(result, { color: ctx.output.options.color }),
      gate ? renderGate(gate, { color: ctx.output.options.color }) : '',
    ]
      .filter(Boolean)
      .join('\n\n'),
  );
  if (gate && !gate.passed)
    throw new VerdictError([gateFailure(gate, flags.baseline!)], 'GATE_FAILED', ExitCode.CheckFailed);
}

function progressText(event: EngineBenchProgress): string {
  if (event.phase === 'load') return event.message;
  if (event.phase === 'config-done') return `${event.config}: done`;
  return `${event.config}: ${event.phase} ${event.done}${event.total === null ? '' : `/${event.total}`}`;
}
