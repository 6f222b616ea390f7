import type { CommandContext } from '../context.js';
import { ExitCode, usageError } from '../../errors.js';
import { fmt } from '../../ui/table.js';

export interface SelfTestFlags {
  concurrency?: number[];
  duration?: number;
  warmupMs?: number;
  out?: string;
  force?: boolean;
}

/** `llmops bench --self-test`: the client against a loopback server of known timing; exit 3 when its error is too large. */
export async function runSelfTest(ctx: CommandContext, flags: SelfTestFlags): Promise<void> {
  if (flags.concurrency && flags.concurrency.length > 1)
    throw usageError('--self-test runs at one load: give one --concurrency', 'INVALID_LOAD');
  const [{ selfTest }, { assertWritable, writeResultsFile }] = await Promise.all([
    import('../../bench/endpoint/self-test.js'),
    import('../../bench/results-file.js'),
  ]);
  await assertWritable(flags.out, { force: flags.force, flag: '--out' });
  ctx.output.info(
    `self-test: ${flags.concurrency?.[0] ?? 400} streams against a loopback server (TTFT 50 ms, ITL 20 ms, 8 tokens)`,
  );
  const result = await selfTest({
    ...(flags.concurrency ? { concurrency: flags.concurrency[0]! } : {}),
    ...(flags.duration === undefined ? {} : { durationMs: flags.duration }),
    ...(flags.warmupMs === undefined ? {} : { warmupMs: flags.warmupMs }),
    signal: ctx.signal,
  });
  if (flags.out)
    await writeResultsFile(flags.out, `${JSON.stringify(result, null, 2)}\n`, { force: flags.force, flag: '--out' });
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)}%`;
  ctx.output.result(result, () =>
    [
      `client self-test at ${result.concurrency} streams: ${result.measured.requests} requests, ${fmt(result.measured.requestsPerSecond, 1)} req/s, ${result.measured.errors} errors`,
      `TTFT p50 ${fmt(result.measured.ttftP50Ms, 2)} ms: the server's own ${fmt(result.server.observed.ttftP50Ms, 2)} ms (client error ${pct(result.error.ttft)}), nominal ${result.server.ttftMs} ms (${pct(result.error.vsNominal.ttft)})`,
      `ITL p50 ${fmt(result.measured.itlP50Ms, 2)} ms: the server's own ${fmt(result.server.observed.itlP50Ms, 2)} ms (client error ${pct(result.error.itl)}), nominal ${result.server.itlMs} ms (${pct(result.error.vsNominal.itl)})`,
      `send lag p99 ${fmt(result.measured.sendLagP99Ms, 2)} ms · client CPU ${fmt(result.measured.cpuMsPerRequest, 3)} ms per request · event-loop delay p99 ${fmt(result.measured.eventLoopDelayP99Ms, 1)} ms`,
      result.passed
        ? `passed: errors within ${result.thresholds.error * 100}% and send lag p99 within ${result.thresholds.sendLagP99Ms} ms`
        : result.warnings.map((w) => `warning: ${w}`).join('\n'),
    ].join('\n'),
  );
  if (result.result.interrupted) process.exitCode = ExitCode.Interrupted;
  else if (!result.passed) {
    ctx.output.stderr.write(`llmops: error: self-test failed: ${result.warnings.join('; ')}\n`);
    process.exitCode = ExitCode.CheckFailed;
  }
}
