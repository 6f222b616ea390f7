import { ExitCode, usageError, VerdictError } from '../../errors.js';
import type { CommandContext } from '../context.js';

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
  const [{ selfTest }, { assertWritable, writeResultsFile }, { renderSelfTest }] = await Promise.all([
    import('../../bench/endpoint/self-test.js'),
    import('../../bench/results-file.js'),
    import('./self-test-print.js'),
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
  ctx.output.result(result, () => renderSelfTest(result));
  if (result.result.interrupted) throw new VerdictError([], 'INTERRUPTED', ExitCode.Interrupted);
  if (!result.passed)
    throw new VerdictError(
      [`self-test failed: ${result.warnings.join('; ')}`],
      'SELF_TEST_FAILED',
      ExitCode.CheckFailed,
    );
}
