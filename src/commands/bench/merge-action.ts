import { readFile } from 'node:fs/promises';
import type { CommandContext } from '../context.js';
import { usageError } from '../../errors.js';

/** `llmops bench merge FILES…`: read each worker's result, merge exactly, print and save like a bench run. */
export async function runMerge(
  ctx: CommandContext,
  options: { out?: string; report?: string; force?: boolean },
  files: string[],
): Promise<void> {
  const [{ mergeEndpointResults, parseEndpointResult }, print, { assertWritable, writeResultsFile }] =
    await Promise.all([
      import('../../bench/endpoint/merge.js'),
      import('./endpoint-print.js'),
      import('../../bench/results-file.js'),
    ]);
  await assertWritable(options.out, { force: options.force, flag: '--out' });
  await assertWritable(options.report, { force: options.force, flag: '--report' });
  const inputs = await Promise.all(
    files.map(async (file) => {
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw usageError(`cannot read ${file}: ${error.code ?? error.message}`, 'MERGE_INVALID');
      });
      return { file, result: parseEndpointResult(text, file) };
    }),
  );
  const merged = mergeEndpointResults(inputs);
  if (options.out)
    await writeResultsFile(options.out, `${JSON.stringify(merged, null, 2)}\n`, {
      force: options.force,
      flag: '--out',
    });
  if (options.report) {
    const { renderHtmlReport } = await import('../../bench/endpoint/report.js');
    await writeResultsFile(options.report, renderHtmlReport(merged), { force: options.force, flag: '--report' });
  }
  ctx.output.result(merged, () => print.renderEndpointResult(merged, { color: ctx.output.options.color }));
}
