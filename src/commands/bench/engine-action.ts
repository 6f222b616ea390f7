import type { CommandContext } from '../context.js';
import type { ExecutionProvider } from '../../engine/session.js';
import type { EngineBenchOptions, EngineBenchProgress, EngineBenchResult } from '../../bench/engine/types.js';
import type { GateResult } from '../../bench/gate.js';

/** The engine-bench flags as commander parses them (the dispatcher in command.ts passes them through). */
export interface EngineBenchFlags {
  provider?: ExecutionProvider;
  threads?: number;
  batch?: number[];
  promptTokens?: number[];
  genTokens?: number;
  iterations?: number;
  duration?: number;
  warmup?: number;
  shape?: string[];
  inputs?: 'text' | 'synthetic';
  dtype?: string;
  kvCache?: 'preallocated' | 'naive';
  gpuPrice?: number;
  tensorrtImage?: string;
  baseline?: string;
  maxRegression?: number;
  out?: string;
  csv?: string;
  force?: boolean;
}

/**
 * `llmops bench TARGET` for a model: flags (over config) → benchEngine → table or JSON → --out/--csv → gate.
 * A failed gate prints its table and sets exit code 3 after the results, so --json still prints one document.
 */
export async function runEngineBench(
  ctx: CommandContext,
  flags: EngineBenchFlags,
  target: string | undefined,
): Promise<void> {
  const [{ benchEngine }, { parseShapes }, print, { renderGate }, { assertWritable, writeResultsFile }] =
    await Promise.all([
      import('../../bench/engine/run.js'),
      import('../../bench/engine/inputs.js'),
      import('./print-engine.js'),
      import('./print-gate.js'),
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
  const options: EngineBenchOptions = {
    ...(target !== undefined ? { target } : {}),
    provider: flags.provider ?? config.engine.provider,
    ...((flags.threads ?? config.engine.threads) ? { threads: flags.threads ?? config.engine.threads } : {}),
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
    ...((flags.gpuPrice ?? config.bench.gpuPricePerHour) !== undefined
      ? { gpuPricePerHour: flags.gpuPrice ?? config.bench.gpuPricePerHour }
      : {}),
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
  if (gate && !gate.passed) {
    const { ExitCode } = await import('../../errors.js');
    ctx.output.stderr.write(
      `llmops: error: bench gate failed: ${gate.regressions.length} metric(s) regressed more than ${Math.round(gate.maxRegression * 1000) / 10}% against ${flags.baseline}\n`,
    );
    process.exitCode = ExitCode.CheckFailed;
  }
}

function progressText(event: EngineBenchProgress): string {
  if (event.phase === 'load') return event.message;
  if (event.phase === 'config-done') return `${event.config}: done`;
  return `${event.config}: ${event.phase} ${event.done}${event.total === null ? '' : `/${event.total}`}`;
}
