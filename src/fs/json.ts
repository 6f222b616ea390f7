import { readFile } from 'node:fs/promises';
import { usageError } from '../errors.js';

export interface ReadJsonOptions {
  /** What the file is, for the message: `baseline`, `bench result`. */
  what: string;
  /** The error code of a file that is not JSON. */
  code: string;
  /** The error code of a file that cannot be read. @default code */
  missingCode?: string;
  /** Said after the error: how to get a good file. */
  hint?: string;
}

/**
 * Reads and parses a JSON file; a missing or unreadable file and invalid JSON are usage errors (exit 2) naming the
 * file and what it should have been. Returns `unknown`: the caller checks the shape.
 */
export async function readJsonFile(file: string, options: ReadJsonOptions): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw usageError(
      `${options.what} ${file} cannot be read: ${reason}`,
      options.missingCode ?? options.code,
      options.hint === undefined ? {} : { hint: options.hint },
    );
  }
  return parseJson(text, file, options);
}

/** Parses `text` read from `file`, with the same named error as {@link readJsonFile}. */
export function parseJson(text: string, file: string, options: ReadJsonOptions): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw usageError(
      `${options.what} ${file} is not valid JSON: ${(error as Error).message}`,
      options.code,
      options.hint === undefined ? {} : { hint: options.hint },
    );
  }
}
