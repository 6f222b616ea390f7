import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { writeFileAtomically } from '../fs/atomic.js';

/**
 * Writes a results file (JSON, CSV) beside its final name and renames it into place, so an interrupted run never
 * leaves half a file that a later gate would read. An existing file is replaced only with `force`.
 */
export async function writeResultsFile(
  file: string,
  text: string,
  options: { force?: boolean; flag: string },
): Promise<void> {
  await assertWritable(file, options);
  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFileAtomically(target, text);
}

/** Checks up front that outputs can be written, so a long benchmark does not end in an OUTPUT_EXISTS error. */
export async function assertWritable(
  file: string | undefined,
  options: { force?: boolean; flag: string },
): Promise<void> {
  if (!file) return;
  const existing = await stat(path.resolve(file)).catch(() => null);
  if (existing?.isDirectory())
    throw usageError(`${options.flag} ${file} is a directory`, 'OUTPUT_IS_DIRECTORY', { hint: 'pass a file name' });
  if (existing && !options.force)
    throw usageError(`${options.flag} ${file} already exists`, 'OUTPUT_EXISTS', {
      hint: 'pass --force to replace it, or choose another name',
    });
}
