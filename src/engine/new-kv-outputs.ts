import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasExternalData, readOnnxNodes, readOnnxOutputNames, withGraphOutputs } from './onnx-outputs.js';
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
 * The model with the given values as extra graph outputs. A model whose weights are all inside its file is loaded
 * from memory: nothing is written, and a read-only directory is no obstacle. One with external weights is written
 * beside the original (ONNX Runtime resolves external weights only inside the model's own directory, links included)
 * under a hidden name, which `dispose` removes once the session is created; null when that directory can't be
 * written (a read-only cache or volume).
 */
export async function withExtraOutputs(onnxPath: string, names: readonly string[]): Promise<ExtraOutputsModel | null> {
  const bytes = withGraphOutputs(onnxPath, names);
  if (!hasExternalData(onnxPath)) return { onnxPath, bytes, dispose: async () => {} };
  const copy = path.join(
    path.dirname(onnxPath),
    `.${path.basename(onnxPath, '.onnx')}.llmops-${process.pid}-${randomBytes(4).toString('hex')}.onnx`,
  );
  try {
    await writeFile(copy, bytes, { flag: 'wx' });
  } catch {
    await rm(copy, { force: true });
    return null;
  }
  return { onnxPath: copy, dispose: () => rm(copy, { force: true }) };
}
