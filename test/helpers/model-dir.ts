import { cp } from 'node:fs/promises';
import path from 'node:path';

/**
 * Copies a model directory without hidden files: a load that runs at the same time in another test process writes a
 * hidden copy of the graph beside the model and removes it (in-place KV on a concatenating export), and a copy
 * taken in between would fail on the vanished file.
 */
export function copyModelDir(source: string, target: string): Promise<void> {
  return cp(source, target, {
    recursive: true,
    filter: (from) => from === source || !path.basename(from).startsWith('.'),
  });
}
