import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  hasExternalData,
  readOnnxNodes,
  readOnnxOutputNames,
  withGraphEdit,
  withGraphEditReferencingWeights,
  type GraphEdit,
  type OnnxNode,
} from './onnx-outputs.js';
import { isPresentOutput } from './signature.js';

/** A graph's nodes and output names, read once for concatNewKv and inPlaceEdit (each walk reads the file's headers). */
export interface GraphHeaders {
  nodes: OnnxNode[];
  outputs: string[];
}

/** The graph's headers; null when the file can't be read as ONNX (loading it then says what is wrong in ONNX Runtime's words). */
export function readGraphHeaders(onnxPath: string): GraphHeaders | null {
  try {
    return { nodes: readOnnxNodes(onnxPath), outputs: readOnnxOutputNames(onnxPath) };
  } catch {
    return null;
  }
}

/**
 * For a graph whose every `present.N.*` is `Concat(past_key_values.N.*, new)` (Optimum's exports): the value name of
 * each present's `new` part — the run's new keys or values — by present name. Null when some present is made
 * otherwise (a merged decoder's `If`, GroupQueryAttention). The caller checks that each `new` has the cache's type.
 */
export function concatNewKv(graph: GraphHeaders): Map<string, string> | null {
  const producers = new Map(graph.nodes.flatMap((node) => node.outputs.map((name) => [name, node])));
  // PyTorch's exporter may put a Cast (to the cache's own type) between the past, the Concat and the present.
  const through = (name: string): string => {
    const node = producers.get(name);
    return node && (node.opType === 'Cast' || node.opType === 'Identity') ? through(node.inputs[0]!) : name;
  };
  const newKv = new Map<string, string>();
  for (const present of graph.outputs.filter(isPresentOutput)) {
    const node = producers.get(through(present));
    const past = present.replace(/^present(?:_key_values)?\./, 'past_key_values.');
    if (node?.opType !== 'Concat' || node.inputs.length !== 2 || through(node.inputs[0]!) !== past) return null;
    newKv.set(present, node.inputs[1]!);
  }
  return newKv.size > 0 ? newKv : null;
}

const KEY_TRANSPOSE = [0, 1, 3, 2];
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The in-place path's graph edit for a concatenating export: its presents' `new` parts as outputs, and attention that
 * reads the past where it lies. The engine writes each step's new keys into its own buffers and never fetches a
 * present, but ONNX Runtime runs every node of a graph, fetched or not, and `Concat(past, new)` copies the whole cache
 * into a new present per layer per step, which attention then reads again: at 16 rows × 400 positions on the 86M
 * GPT-2, ~470 MB written and read per step, more than its weights. So where a present's only uses are the key path
 * (`Transpose` to [.., head, position] then `MatMul(query, ·)`), the value path (`MatMul(probabilities, ·)`) and
 * `Shape`, they are rewritten over past and new separately — `query·[past; new]ᵀ` is the concatenation of
 * `query·pastᵀ` and `query·newᵀ` along the key axis, `probabilities·[past; new]` the sum of its two halves' products —
 * and the Concat and the present output are dropped. A present used otherwise keeps its Concat. Logits then differ
 * from the concatenating graph's by float rounding (the value product is summed in two parts).
 */
export function inPlaceEdit(
  { nodes, outputs }: GraphHeaders,
  newKv: ReadonlyMap<string, string>,
): GraphEdit & { dropped: string[] } {
  const graphOutputs = new Set(outputs);
  const producers = new Map(nodes.flatMap((node) => node.outputs.map((name) => [name, node])));
  const users = new Map<string, OnnxNode[]>();
  for (const node of nodes)
    for (const input of new Set(node.inputs)) users.set(input, [...(users.get(input) ?? []), node]);
  const added: OnnxNode[] = [];
  const constants = new Map<string, bigint[]>();
  const constant = (name: string, values: bigint[]) => {
    constants.set(`llmops.in_place.${name}`, values);
    return `llmops.in_place.${name}`;
  };
  const node = (opType: string, inputs: string[], outputs: string[], attributes: OnnxNode['attributes'] = {}) =>
    added.push({ opType, inputs, outputs, attributes });
  // Every layer's past has one shape, and every layer's new part another (the engine feeds them so): the shapes and
  // the past's length are computed once, from the first rewritten layer's, since each node costs a little per step.
  let sharedValues: { totalShape: string; pastLength: string } | null = null;
  const shared = (past: string, fresh: string) => {
    if (sharedValues) return sharedValues;
    const value = (part: string) => `llmops.in_place.${part}`;
    node('Shape', [past], [value('past_shape')]);
    node('Shape', [fresh], [value('new_shape')]);
    // [batch, heads, past + new, head_dim]: the past's shape plus the new part's sequence length.
    node('Mul', [value('new_shape'), constant('sequence_axis', [0n, 0n, 1n, 0n])], [value('new_length')]);
    node('Add', [value('past_shape'), value('new_length')], [value('total_shape')]);
    node(
      'Slice',
      [value('past_shape'), constant('two', [2n]), constant('three', [3n]), constant('zero', [0n])],
      [value('past_length')],
    );
    return (sharedValues = { totalShape: value('total_shape'), pastLength: value('past_length') });
  };
  const dropNodes = new Set<string>();
  const dropped: string[] = [];
  for (const [present, fresh] of newKv) {
    const concat = producers.get(present);
    const past = present.replace(/^present(?:_key_values)?\./, 'past_key_values.');
    const axis = concat?.attributes.axis;
    if (!concat || concat.outputs[0] !== present || concat.inputs[0] !== past || (axis !== 2 && axis !== -2)) continue;
    const uses = users.get(present) ?? [];
    const keyUses = (use: OnnxNode) =>
      users.get(use.outputs[0]!)?.filter((next) => next.opType === 'MatMul' && next.inputs[1] === use.outputs[0]) ?? [];
    const rewritable = uses.every(
      (use) =>
        (use.opType === 'Shape' && use.attributes.start === undefined && use.attributes.end === undefined) ||
        (use.opType === 'MatMul' && use.inputs[0] !== present && use.inputs[1] === present) ||
        (use.opType === 'Transpose' &&
          String(use.attributes.perm) === String(KEY_TRANSPOSE) &&
          !graphOutputs.has(use.outputs[0]!) &&
          keyUses(use).length > 0 &&
          keyUses(use).length === users.get(use.outputs[0]!)!.length),
    );
    if (!rewritable) continue;
    const name = (part: string) => `${present}/llmops.in_place/${part}`;
    uses.forEach((use, index) => {
      dropNodes.add(use.outputs[0]!);
      if (use.opType === 'Shape') {
        node('Identity', [shared(past, fresh).totalShape], [use.outputs[0]!]);
      } else if (use.opType === 'Transpose') {
        node('Transpose', [past], [name(`past_t${index}`)], { perm: KEY_TRANSPOSE });
        node('Transpose', [fresh], [name(`new_t${index}`)], { perm: KEY_TRANSPOSE });
        keyUses(use).forEach((matmul, j) => {
          dropNodes.add(matmul.outputs[0]!);
          const scores = (part: string) => name(`scores${index}_${j}_${part}`);
          node('MatMul', [matmul.inputs[0]!, name(`past_t${index}`)], [scores('past')]);
          node('MatMul', [matmul.inputs[0]!, name(`new_t${index}`)], [scores('new')]);
          node('Concat', [scores('past'), scores('new')], [matmul.outputs[0]!], { axis: 3 });
        });
      } else {
        const weights = use.inputs[0]!;
        const length = shared(past, fresh).pastLength;
        const part = (which: string) => name(`context${index}_${which}`);
        node('Slice', [weights, constant('zero', [0n]), length, constant('last', [-1n])], [part('past_weights')]);
        node('Slice', [weights, length, constant('max', [INT64_MAX]), constant('last', [-1n])], [part('new_weights')]);
        node('MatMul', [part('past_weights'), past], [part('past')]);
        node('MatMul', [part('new_weights'), fresh], [part('new')]);
        node('Add', [part('past'), part('new')], [use.outputs[0]!]);
      }
    });
    dropNodes.add(present);
    dropped.push(present);
  }
  return {
    outputs: [...newKv.values()],
    dropOutputs: new Set(dropped),
    dropNodes,
    nodes: added,
    constants: [...constants].map(([name, values]) => ({ name, values })),
    dropped,
  };
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
 * The model with a graph edit (extra outputs, and see inPlaceEdit). Its graph is written under a hidden name beside the weight
 * files, referencing the weights where they are (the model file, its external data), so the copy is kilobytes and
 * loading it holds no second copy of the weights; `dispose` removes it once the session is created. "Beside" is where
 * the files really are: ONNX Runtime refuses weights whose path leaves the model's directory, links included, and a
 * Hugging Face cache snapshot links each file to a blob elsewhere. Where that directory can't be written (a read-only
 * cache or volume) or the files are in several, a model whose weights are all inside its file is loaded from memory
 * instead, which holds the file's bytes while the session is created; one with external weights can't be: null.
 */
export async function withExtraOutputs(onnxPath: string, edit: GraphEdit): Promise<ExtraOutputsModel | null> {
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
    await writeFile(copy, withGraphEditReferencingWeights(onnxPath, edit, locate), { flag: 'wx' });
    return { onnxPath: copy, dispose: () => rm(copy, { force: true }) };
  } catch {
    await rm(copy, { force: true });
  }
  if (hasExternalData(onnxPath)) return null;
  return { onnxPath, bytes: withGraphEdit(onnxPath, edit), dispose: async () => {} };
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
