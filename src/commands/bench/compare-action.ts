import { readFile } from 'node:fs/promises';
import type { CommandContext } from '../context.js';
import { usageError } from '../../errors.js';

/** `llmops bench compare A B`: two endpoint results side by side per load level; a table, --json, --out, --report. */
export async function runCompare(
  ctx: CommandContext,
  options: { out?: string; report?: string; force?: boolean },
  a: string,
  b: string,
): Promise<void> {
  const [
    { parseEndpointResult },
    { compareEndpointResults },
    { assertWritable, writeResultsFile },
    { renderComparison },
  ] = await Promise.all([
    import('../../bench/endpoint/merge.js'),
    import('../../bench/endpoint/compare.js'),
    import('../../bench/results-file.js'),
    import('./compare-print.js'),
  ]);
  await assertWritable(options.out, { force: options.force, flag: '--out' });
  await assertWritable(options.report, { force: options.force, flag: '--report' });
  const read = async (file: string) => {
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw usageError(`cannot read ${file}: ${error.code ?? error.message}`, 'COMPARE_INVALID');
    });
    return { file, result: parseEndpointResult(text, file) };
  };
  const [left, right] = await Promise.all([read(a), read(b)]);
  const comparison = compareEndpointResults(left, right);
  if (comparison.rows.length === 0)
    throw usageError(`${a} and ${b} share no load level`, 'COMPARE_NO_COMMON_LEVEL', {
      hint: `levels of ${a}: ${comparison.onlyInA.join(', ')}; of ${b}: ${comparison.onlyInB.join(', ')}`,
    });
  if (options.out)
    await writeResultsFile(options.out, `${JSON.stringify(comparison, null, 2)}\n`, {
      force: options.force,
      flag: '--out',
    });
  if (options.report) {
    const { renderComparisonReport } = await import('../../bench/endpoint/report.js');
    await writeResultsFile(options.report, renderComparisonReport(comparison, left.result, right.result), {
      force: options.force,
      flag: '--report',
    });
  }
  ctx.output.result(comparison, () => renderComparison(comparison, { a, b, color: ctx.output.options.color }));
}
