import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  hasExternalData,
  readOnnxNodes,
  readOnnxOutputNames,
  withGraphOutputs,
  withGraphOutputsReferencingWeights,
} from './onnx-outputs.js';
import { isPresentOutput } from './signature.js';

/**
 * For a graph whose every `present.N.*` is `Concat(past_key_values.N.*, new)` (Optimum's exports): the value name of
 * each present's `new` part — the run's new keys or values — by present name. Null when some present is made
 * otherwise (a merged decoder's `If`, GroupQueryAttention), and when the file can't be read as ONNX (loading it then
 * says what is wrong in ONNX Runtime's words). The caller checks that each `new` has the cache's type.
 */
export function concatNewKv(onnxPath: string): Map<string, string> | null {
  try {
    return readConcatNewKv(onnxPath);
  } catch {
    return null;
  }
}

function readConcatNewKv(onnxPath: string): Map<string, string> | null {
  const producers = new Map(readOnnxNodes(onnxPath).flatMap((node) => node.outputs.map((name) => [name, node])));
  // PyTorch's exporter may put a Cast (to the cache's own type) between the past, the Concat and the present.
  const through = (name: string): string => {
    const node = producers.get(name);
    return node && (node.opType === 'Cast' || node.opType === 'Identity') ? through(node.inputs[0]!) : name;
  };
  const newKv = new Map<string, string>();
  for (const present of readOnnxOutputNames(onnxPath).filter(isPresentOutput)) {
    const node = producers.get(through(present));
    const past = present.replace(/^present(?:_key_values)?\./, 'past_key_values.');
    if (node?.opType !== 'Concat' || node.inputs.length !== 2 || through(node.inputs[0]!) !== past) return null;
    newKv.set(present, node.inputs[1]!);
  }
  return newKv.size > 0 ? newKv : null;
}

/** A model with extra graph outputs, ready for createSession. */
export interface ExtraOutputsModel {
  /** The file to load, or (with `bytes`) the original's path, for messages. */
  onnxPath: string;
  /** The model itself, when it is loaded from memory. */
  bytes?: Uint8Array;
  /** Removes what was written for it, once the session exists. */
  dispose: () => Promise<void>;
}

/**
 * The model with the given values as extra graph outputs. Its graph is written under a hidden name beside the weight
 * files, referencing the weights where they are (the model file, its external data), so the copy is kilobytes and
 * loading it holds no second copy of the weights; `dispose` removes it once the session is created. "Beside" is where
 * the files really are: ONNX Runtime refuses weights whose path leaves the model's directory, links included, and a
 * Hugging Face cache snapshot links each file to a blob elsewhere. Where that directory can't be written (a read-only
 * cache or volume) or the files are in several, a model whose weights are all inside its file is loaded from memory
 * instead, which holds the file's bytes while the session is created; one with external weights can't be: null.
 */
export async function withExtraOutputs(onnxPath: string, names: readonly string[]): Promise<ExtraOutputsModel | null> {
  const dir = path.dirname(await realpath(onnxPath));
  await removeStaleCopies(dir);
  const copy = path.join(
    dir,
    `.${path.basename(onnxPath, '.onnx')}.llmops-${process.pid}-${randomBytes(4).toString('hex')}.onnx`,
  );
  const locate = (file: string): string => {
    const real = realpathSync(path.join(path.dirname(onnxPath), file));
    if (path.dirname(real) !== dir) throw new Error(`${file} is not in ${dir}`);
    return path.basename(real);
  };
  try {
    await writeFile(copy, withGraphOutputsReferencingWeights(onnxPath, names, locate), { flag: 'wx' });
    return { onnxPath: copy, dispose: () => rm(copy, { force: true }) };
  } catch {
    await rm(copy, { force: true });
  }
  if (hasExternalData(onnxPath)) return null;
  return { onnxPath, bytes: withGraphOutputs(onnxPath, names), dispose: async () => {} };
}

const COPY_NAME = /^\..*\.llmops-(\d+)-[0-9a-f]{8}\.onnx$/;

/**
 * A copy lives only while its process creates a session; one older than this was left by a process that died.
 * (The process id alone can't tell: pods sharing a volume have their own process ids.)
 */
const STALE_COPY_MS = 60 * 60 * 1000;

/** Removes copies left by processes that died while creating their session. */
async function removeStaleCopies(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = COPY_NAME.exec(name)?.[1];
    if (!pid || isRunning(Number(pid))) continue;
    const file = path.join(dir, name);
    const modified = await stat(file).then(
      (info) => info.mtimeMs,
      () => Date.now(),
    );
    if (Date.now() - modified > STALE_COPY_MS) await rm(file, { force: true }).catch(() => {});
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
