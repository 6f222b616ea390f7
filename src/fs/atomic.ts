import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Outputs are built beside their final name (same file system, so the rename is atomic) and renamed into place:
 * an interrupted run leaves nothing half-written where a reader would look.
 */

export interface FileToWrite {
  /** Relative to the directory written into, `/`-separated. */
  path: string;
  content: string;
}

/** Where a file is written before it is renamed to `target`: beside it, hidden, per process. */
export function temporaryBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
}

/** A fresh hidden directory name beside `target`, unique per process and call. */
export function temporaryDirBeside(target: string, tag = 'tmp'): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/** Writes `text` to a temporary file beside `file`, then renames it over `file`. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temporary = temporaryBeside(file);
  try {
    await writeFile(temporary, text);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Writes each file under `dir`, creating the directories between. */
export async function writeFiles(dir: string, files: readonly FileToWrite[]): Promise<void> {
  for (const file of files) {
    const target = path.join(dir, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.content);
  }
}

export interface BuildDirOptions {
  /**
   * What happens to an existing `dir`: `refuse` lets the rename fail, `replace` swaps the whole directory, `merge`
   * replaces only the entries the build wrote and keeps the rest (a project's `.git`). @default 'refuse'
   */
  existing?: 'refuse' | 'replace' | 'merge';
  /** Names the temporary directory (`.dir.<tag>-pid-rand`). @default 'tmp' */
  tag?: string;
}

/**
 * Builds a directory in a temporary directory beside `dir`, then moves it into place; on any error the temporary
 * directory is removed and the error rethrown, so `dir` is either untouched or complete.
 */
export async function buildDirAtomically(
  dir: string,
  build: (temporary: string) => Promise<unknown>,
  options: BuildDirOptions = {},
): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  const temporary = temporaryDirBeside(dir, options.tag);
  try {
    await mkdir(temporary);
    await build(temporary);
    const existing = options.existing ?? 'refuse';
    if (existing === 'merge' && (await exists(dir))) {
      for (const entry of await readdir(temporary)) {
        await rm(path.join(dir, entry), { recursive: true, force: true });
        await rename(path.join(temporary, entry), path.join(dir, entry));
      }
      await rm(temporary, { recursive: true, force: true });
    } else if (existing === 'replace' && (await exists(dir))) {
      const old = `${temporary}.old`;
      await rename(dir, old);
      await rename(temporary, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temporary, dir);
    }
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}
