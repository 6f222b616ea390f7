import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import {
  beforeCasts,
  producersOf,
  readOnnxGraph,
  withGraphEditReferencingWeights,
  type GraphEdit,
  type OnnxGraph,
  type OnnxNode,
} from './onnx-outputs.js';
import { isPresentOutput } from './signature.js';

/**
 * What concatNewKv and inPlaceEdit read of a graph (its headers), read once; null when the file can't be read as ONNX
 * (loading it then says what is wrong in ONNX Runtime's words).
 */
export function readGraphHeaders(onnxPath: string): OnnxGraph | null {
  try {
    return readOnnxGraph(onnxPath);
  } catch {
    return null;
  }
}

/**
 * For a graph whose every `present.N.*` is `Concat(past_key_values.N.*, new)` (Optimum's exports): the value name of
 * each present's `new` part — the run's new keys or values — by present name. Null when some present is made
 * otherwise (a merged decoder's `If`, GroupQueryAttention). The caller checks that each `new` has the cache's type.
 */
export function concatNewKv(graph: OnnxGraph): Map<string, string> | null {
  const producers = producersOf(graph.nodes);
  const newKv = new Map<string, string>();
  for (const present of graph.outputs.filter(isPresentOutput)) {
    const concat = concatBehind(producers, present)?.[0];
    const past = present.replace(/^present(?:_key_values)?\./, 'past_key_values.');
    if (!concat || beforeCasts(producers, concat.inputs[0]!) !== past) return null;
    newKv.set(present, concat.inputs[1]!);
  }
  return newKv.size > 0 ? newKv : null;
}

/** The two-input Concat that makes `present`, then the Casts and Identities between it and the present; or null. */
function concatBehind(producers: ReadonlyMap<string, OnnxNode>, present: string): OnnxNode[] | null {
  const made: OnnxNode[] = [];
  for (let node = producers.get(present); node; node = producers.get(node.inputs[0]!)) {
    made.unshift(node);
    if (node.opType === 'Concat') return node.inputs.length === 2 ? made : null;
    if (node.opType !== 'Cast' && node.opType !== 'Identity') return null;
  }
  return null;
}

const KEY_TRANSPOSE = [0, 1, 3, 2];
/** The two parts attention is computed over apart: the cache as fed, and the step's new keys or values. */
const PARTS = ['past', 'new'] as const;
const INT64_MAX = 2n ** 63n - 1n;

/**
 * What a present's value goes through before attention reads it, and what attention does with it. A present (or what
 * it became on the way) may be cast to the compute type, and in Llama-style exports grouped: `repeat_kv` repeats each
 * KV head for its group of query heads (`Unsqueeze` at axis 2, `Expand`, `Reshape` to [batch, heads, positions,
 * head_dim]). Attention then reads it as keys (`Transpose` to [.., head_dim, positions] then `MatMul(query, ·)`, or
 * in between a `Mul` by a factor: PyTorch's export of scaled_dot_product_attention, transformers' default, multiplies
 * query and transposed keys each by the scale's square root; or, in a graph ONNX Runtime optimized at its extended
 * level, one `FusedMatMul(query, ·)` that transposes them itself), as values (`MatMul(probabilities, ·)`), or reads
 * its `Shape`.
 */
interface Way {
  /** The nodes on the way (the Cast, the repeat), dropped with the present. */
  through: OnnxNode[];
  cast?: OnnxNode;
  grouped?: boolean;
}
type AttentionUse = Way &
  (
    | { kind: 'shape'; node: OnnxNode }
    | { kind: 'key'; transpose: OnnxNode | null; products: KeyProduct[] }
    | { kind: 'value'; matmul: OnnxNode }
  );

/** A product of queries and transposed keys; `scaled`: the Mul by a factor the transposed keys go through first. */
interface KeyProduct {
  matmul: OnnxNode;
  scaled?: { mul: OnnxNode; factor: string };
}

/**
 * The in-place path's graph edit for a concatenating export: its presents' `new` parts as outputs, and attention that
 * reads the past where it lies. The engine writes each step's new keys into its own buffers and never fetches a
 * present, but ONNX Runtime runs every node of a graph, fetched or not, and `Concat(past, new)` copies the whole cache
 * into a new present per layer per step, which attention then reads again: at 16 rows × 400 positions on the 86M
 * GPT-2, ~470 MB written and read per step, more than its weights. Llama-style exports copy it again, once per query
 * head, in `repeat_kv`. So where a present reaches attention only in the ways AttentionUse describes, attention is
 * rewritten over past and new separately — `query·[past; new]ᵀ` is the concatenation of `query·pastᵀ` and `query·newᵀ`
 * along the key axis, `probabilities·[past; new]` the sum of its two halves' products — and grouped attention reads
 * each KV head once for its whole group, with the group's queries (or probabilities) stacked as rows: [batch, heads,
 * rows, ·] reshaped to [batch, kv_heads, group × rows, ·], which is what repeat_kv's head order (KV head major) means.
 * The Concat, the repeat and the present output are dropped. A present used otherwise keeps its Concat. Logits then
 * differ from the concatenating graph's by float rounding (the value product is summed in two parts).
 */
export function inPlaceEdit(graph: OnnxGraph, newKv: ReadonlyMap<string, string>): GraphEdit & { dropped: string[] } {
  const { nodes, inputs, outputs, initializers } = graph;
  const paths = new AttentionPaths(graph);
  const added: OnnxNode[] = [];
  const constants = new Map<string, bigint[]>();
  const constant = (name: string, values: bigint[]) => {
    constants.set(`llmops.in_place.${name}`, values);
    return `llmops.in_place.${name}`;
  };
  const node = (opType: string, inputs: string[], outputs: string[], attributes: OnnxNode['attributes'] = {}) =>
    added.push({ opType, inputs, outputs, attributes });
  const value = (part: string) => `llmops.in_place.${part}`;
  // Every layer's past has one shape, and every layer's new part another (the engine feeds them so), and every layer
  // has as many query heads: the shapes and the past's length are computed once, from the first rewritten layer's,
  // since each node costs a little per step.
  const shared = once((past: string, fresh: string) => {
    node('Shape', [past], [value('past_shape')]);
    node('Shape', [fresh], [value('new_shape')]);
    // [batch, kv_heads, past + new, head_dim]: the past's shape plus the new part's sequence length.
    node('Mul', [value('new_shape'), constant('sequence_axis', [0n, 0n, 1n, 0n])], [value('new_length')]);
    node('Add', [value('past_shape'), value('new_length')], [value('total_shape')]);
    node(
      'Slice',
      [value('past_shape'), constant('two', [2n]), constant('three', [3n]), constant('zero', [0n])],
      [value('past_length')],
    );
    return { totalShape: value('total_shape'), pastLength: value('past_length') };
  });
  // [0, kv_heads, -1, 0]: a Reshape to it stacks each KV head's group of query heads as rows (0 keeps a dimension).
  const grouped = once(() => {
    node('Mul', [value('past_shape'), constant('heads_axis', [0n, 1n, 0n, 0n])], [value('kv_heads')]);
    node('Add', [value('kv_heads'), constant('rows_inferred', [0n, 0n, -1n, 0n])], [value('grouped_shape')]);
    return value('grouped_shape');
  });
  // [batch, heads, -1, 0], from a query's or probabilities' shape: a Reshape to it undoes the grouping.
  const ungrouped = once((perHead: string) => {
    node('Shape', [perHead], [value('per_head_shape')]);
    node('Mul', [value('per_head_shape'), constant('batch_heads', [1n, 1n, 0n, 0n])], [value('heads')]);
    node('Add', [value('heads'), constant('rows_inferred', [0n, 0n, -1n, 0n])], [value('heads_shape')]);
    return value('heads_shape');
  });
  // [batch, heads, past + new, head_dim]: what repeat_kv made of the cache (read by its Shape), after ungrouped.
  const expandedShape = once((totalShape: string, headsShape: string) => {
    node('Mul', [totalShape, constant('all_but_heads', [1n, 0n, 1n, 1n])], [value('total_but_heads')]);
    node('Mul', [headsShape, constant('heads_axis', [0n, 1n, 0n, 0n])], [value('heads_count')]);
    node('Add', [value('total_but_heads'), value('heads_count')], [value('repeated_shape')]);
    return value('repeated_shape');
  });

  const dropNodes = new Set<string>();
  const dropped: string[] = [];
  for (const [present, fresh] of newKv) {
    const made = paths.concatOf(present);
    if (!made) continue;
    // The cache as the Concat takes it (the past input, or what the export cast it to).
    const past = made[0]!.inputs[0]!;
    const uses = paths.uses(present);
    // A grouped Shape's head count comes from a query's (or probabilities') shape: there is one where it is read.
    if (
      !uses ||
      (uses.some((use) => use.kind === 'shape' && use.grouped) &&
        !uses.some((use) => use.kind !== 'shape' && use.grouped))
    )
      continue;
    const { totalShape, pastLength } = shared(past, fresh);
    const name = (part: string) => `${present}/llmops.in_place/${part}`;
    // Past and new as attention reads them (cast once per Cast of the export).
    const parts = (way: Way): { past: string; new: string } => {
      if (!way.cast) return { past, new: fresh };
      const cast = (part: string, input: string) => {
        const output = name(`${way.cast!.outputs[0]}/${part}`);
        if (!added.some((known) => known.outputs[0] === output))
          node('Cast', [input], [output], { to: way.cast!.attributes.to! });
        return output;
      };
      return { past: cast('past', past), new: cast('new', fresh) };
    };
    // Grouped attention: a per-head tensor ([batch, heads, rows, ·]) stacked by KV head, and a result unstacked.
    const stacked = (way: Way, perHead: string, at: string) => {
      if (!way.grouped) return perHead;
      node('Reshape', [perHead, grouped()], [name(at)]);
      return name(at);
    };
    let headsShape: string | undefined;
    const unstacking = (way: Way, output: string, perHead: string, emit: (to: string) => void) => {
      if (!way.grouped) return emit(output);
      emit(name(`${output}/stacked`));
      headsShape = ungrouped(perHead);
      node('Reshape', [name(`${output}/stacked`), headsShape], [output]);
    };
    // Shapes last: a grouped Shape's head count is taken from a per-head tensor of the same layer.
    [...uses.filter((use) => use.kind !== 'shape'), ...uses.filter((use) => use.kind === 'shape')].forEach(
      (use, index) => {
        for (const passed of use.through) dropNodes.add(passed.outputs[0]!);
        if (use.kind === 'shape') {
          dropNodes.add(use.node.outputs[0]!);
          const shape = use.grouped ? expandedShape(totalShape, headsShape!) : totalShape;
          node('Identity', [shape], [use.node.outputs[0]!]);
        } else if (use.kind === 'key') {
          const { transpose } = use;
          const keyParts = parts(use);
          if (transpose) {
            dropNodes.add(transpose.outputs[0]!);
            for (const part of PARTS)
              node('Transpose', [keyParts[part]], [name(`${part}_t${index}`)], { perm: KEY_TRANSPOSE });
          }
          use.products.forEach(({ matmul, scaled }, j) => {
            dropNodes.add(matmul.outputs[0]!);
            const query = stacked(use, matmul.inputs[0]!, `query${index}_${j}`);
            const scores = (part: string) => name(`scores${index}_${j}_${part}`);
            // Scaled keys: ONNX Runtime folds a constant scalar factor and the Transpose into one FusedMatMul.
            const keys = (part: (typeof PARTS)[number]) => {
              if (!transpose) return keyParts[part];
              if (!scaled) return name(`${part}_t${index}`);
              dropNodes.add(scaled.mul.outputs[0]!);
              const output = name(`${part}_t${index}_scaled${j}`);
              node('Mul', [name(`${part}_t${index}`), scaled.factor], [output]);
              return output;
            };
            // A FusedMatMul is copied as it is (its alpha and transB), over each part.
            for (const part of PARTS)
              if (transpose) node('MatMul', [query, keys(part)], [scores(part)]);
              else added.push({ ...matmul, inputs: [query, keys(part)], outputs: [scores(part)] });
            unstacking(use, matmul.outputs[0]!, matmul.inputs[0]!, (to) =>
              node('Concat', [scores('past'), scores('new')], [to], { axis: 3 }),
            );
          });
        } else {
          dropNodes.add(use.matmul.outputs[0]!);
          const { past: pastPart, new: newPart } = parts(use);
          const weights = stacked(use, use.matmul.inputs[0]!, `weights${index}`);
          const part = (which: string) => name(`context${index}_${which}`);
          node('Slice', [weights, constant('zero', [0n]), pastLength, constant('last', [-1n])], [part('past_weights')]);
          node(
            'Slice',
            [weights, pastLength, constant('max', [INT64_MAX]), constant('last', [-1n])],
            [part('new_weights')],
          );
          node('MatMul', [part('past_weights'), pastPart], [part('past')]);
          node('MatMul', [part('new_weights'), newPart], [part('new')]);
          unstacking(use, use.matmul.outputs[0]!, use.matmul.inputs[0]!, (to) =>
            node('Add', [part('past'), part('new')], [to]),
          );
        }
      },
    );
    for (const node of made) dropNodes.add(node.outputs[0]!);
    dropped.push(present);
  }
  // What only the dropped nodes read (repeat_kv's shapes, computed from the present's, or folded into initializers by
  // an optimizer) would still run every step, and ONNX Runtime warns about each initializer left unread: drop every
  // node no graph output depends on any more, and the initializers only dropped nodes read.
  const kept = nodes.filter((node) => !dropNodes.has(node.outputs[0]!));
  const needed = new Set([...outputs.filter((name) => !dropped.includes(name)), ...newKv.values()]);
  const keptProducers = new Map([...kept, ...added].flatMap((node) => node.outputs.map((name) => [name, node])));
  const live = new Set<OnnxNode>();
  for (const pending = [...needed]; pending.length > 0;) {
    const producer = keptProducers.get(pending.pop()!);
    if (!producer || live.has(producer)) continue;
    live.add(producer);
    pending.push(...producer.inputs);
  }
  // (A subgraph of If, Loop or Scan may read outer values and initializers it doesn't list as inputs: there, nothing
  // more is dropped.)
  const subgraphs = nodes.some((node) => ['If', 'Loop', 'Scan'].includes(node.opType));
  if (dropped.length > 0 && !subgraphs) for (const node of kept) if (!live.has(node)) dropNodes.add(node.outputs[0]!);
  const read = (from: OnnxNode[]) => new Set(from.flatMap((node) => node.inputs));
  const readBefore = read(nodes);
  const readAfter = read([...nodes.filter((node) => !dropNodes.has(node.outputs[0]!)), ...added]);
  const graphInputs = new Set(inputs);
  const unread = [...initializers.keys()].filter(
    (name) =>
      !subgraphs && readBefore.has(name) && !readAfter.has(name) && !graphInputs.has(name) && !outputs.includes(name),
  );
  return {
    outputs: [...newKv.values()],
    dropOutputs: new Set(dropped),
    dropNodes,
    dropInitializers: new Set(unread),
    nodes: added,
    constants: [...constants].map(([name, values]) => ({ name, values })),
    dropped,
  };
}

/** How presents reach attention (see Way), over a graph indexed once. */
class AttentionPaths {
  private readonly producers: Map<string, OnnxNode>;
  private readonly users = new Map<string, OnnxNode[]>();
  private readonly graphOutputs: Set<string>;
  private readonly initializers: Map<string, number[] | null>;

  constructor({ nodes, outputs, initializers }: OnnxGraph) {
    this.producers = producersOf(nodes);
    for (const node of nodes)
      for (const input of new Set(node.inputs)) {
        const users = this.users.get(input);
        if (users) users.push(node);
        else this.users.set(input, [node]);
      }
    this.graphOutputs = new Set(outputs);
    this.initializers = initializers;
  }

  /**
   * The nodes that make `present` (see concatBehind) when they can all be dropped with it: the Concat is along the
   * positions, and each of them is read only by the next. Null otherwise.
   */
  concatOf(present: string): OnnxNode[] | null {
    const made = concatBehind(this.producers, present);
    const axis = made?.[0]!.attributes.axis;
    if (!made || (axis !== 2 && axis !== -2)) return null;
    const dropsWith = made.every((node, index) => {
      const next = made[index + 1];
      return !next || this.onlyUser(node.outputs[0]!, next.opType) === next;
    });
    return dropsWith ? made : null;
  }

  /** How `value` (a present, or what it became on `way`) reaches attention; null when some use is none of those. */
  uses(value: string, way: Way = { through: [] }): AttentionUse[] | null {
    const found: AttentionUse[] = [];
    for (const use of this.users.get(value) ?? []) {
      const next = use.outputs[0]!;
      if (use.opType === 'Shape' && use.attributes.start === undefined && use.attributes.end === undefined) {
        found.push({ ...way, kind: 'shape', node: use });
      } else if (use.opType === 'MatMul' && use.inputs[0] !== value && use.inputs[1] === value) {
        found.push({ ...way, kind: 'value', matmul: use });
      } else if (use.opType === 'Transpose' && String(use.attributes.perm) === String(KEY_TRANSPOSE)) {
        const products = this.keyProducts(next, true);
        if (!products) return null;
        found.push({ ...way, kind: 'key', transpose: use, products });
      } else if (isTransposingKeyProduct(use, value)) {
        found.push({ ...way, kind: 'key', transpose: null, products: [{ matmul: use }] });
      } else if (use.opType === 'Cast' && !way.cast && !way.grouped && !this.graphOutputs.has(next)) {
        const after = this.uses(next, { ...way, through: [...way.through, use], cast: use });
        if (!after) return null;
        found.push(...after);
      } else if (
        use.opType === 'Unsqueeze' &&
        !way.grouped &&
        isAxis2(asList(use.attributes.axes) ?? this.int64Value(use.inputs[1]))
      ) {
        const expand = this.onlyUser(next, 'Expand');
        const reshape = expand && this.onlyUser(expand.outputs[0]!, 'Reshape');
        const after =
          expand &&
          reshape &&
          this.uses(reshape.outputs[0]!, { ...way, through: [...way.through, use, expand, reshape], grouped: true });
        if (!after) return null;
        found.push(...after);
      } else {
        return null;
      }
    }
    return found;
  }

  /**
   * Every use of the transposed keys `keys` is a product with queries, maybe through a Mul by a factor. The factor is
   * applied to past and new apart, so it is taken to be the same along the positions, as SDPA's scalar is.
   */
  private keyProducts(keys: string, scalable: boolean): KeyProduct[] | null {
    const found: KeyProduct[] = [];
    const uses = this.users.get(keys) ?? [];
    if (this.graphOutputs.has(keys) || uses.length === 0) return null;
    for (const use of uses) {
      if (use.opType === 'MatMul' && use.inputs[0] !== keys && use.inputs[1] === keys) {
        found.push({ matmul: use });
      } else if (scalable && use.opType === 'Mul' && use.inputs.filter((input) => input === keys).length === 1) {
        const factor = use.inputs.find((input) => input !== keys)!;
        const scaledProducts = this.keyProducts(use.outputs[0]!, false);
        if (!scaledProducts) return null;
        found.push(...scaledProducts.map(({ matmul }) => ({ matmul, scaled: { mul: use, factor } })));
      } else {
        return null;
      }
    }
    return found;
  }

  /** The node that alone reads `value`, as its first input, when it is an `opType` (and `value` no graph output). */
  private onlyUser(value: string, opType: string): OnnxNode | undefined {
    const found = this.users.get(value) ?? [];
    const only = found.length === 1 ? found[0]! : undefined;
    return only?.opType === opType && only.inputs[0] === value && !this.graphOutputs.has(value) ? only : undefined;
  }

  /** A small int64 constant's values: a `Constant` node's, or an initializer's. */
  private int64Value(name: string | undefined): number[] | undefined {
    if (name === undefined) return undefined;
    const producer = this.producers.get(name);
    if (producer) return producer.opType === 'Constant' ? asList(producer.attributes.value) : undefined;
    return this.initializers.get(name) ?? undefined;
  }
}

/** `make` on the first call, and what it made on every call after (its arguments then go unread). */
function once<Args extends unknown[], Made>(make: (...args: Args) => Made): (...args: Args) => Made {
  let made: { value: Made } | undefined;
  return (...args) => (made ??= { value: make(...args) }).value;
}

/**
 * ONNX Runtime's `FusedMatMul(query, keys)` with `transB`: the keys' last two axes swapped, nothing else (alpha, a
 * scalar factor, stays as it is).
 */
function isTransposingKeyProduct(use: OnnxNode, keys: string): boolean {
  const { transA = 0, transB = 0, transBatchA = 0, transBatchB = 0 } = use.attributes;
  return (
    use.opType === 'FusedMatMul' &&
    use.domain === 'com.microsoft' &&
    use.inputs.length === 2 &&
    use.inputs[0] !== keys &&
    use.inputs[1] === keys &&
    transA === 0 &&
    transB === 1 &&
    transBatchA === 0 &&
    transBatchB === 0
  );
}

function asList(attribute: number | number[] | undefined): number[] | undefined {
  return attribute === undefined ? undefined : ([] as number[]).concat(attribute);
}

/** Unsqueeze axes [2] (or -3, the same axis of a 4-D input): repeat_kv's new axis, before the positions. */
function isAxis2(axes: number[] | undefined): boolean {
  return axes?.length === 1 && (axes[0] === 2 || axes[0] === -3);
}

/** A graph edit of a model, held in memory, ready for createSession. */
export interface EditedModel {
  /** The edited graph: kilobytes, its weights referenced where they lie. */
  bytes: Uint8Array;
  /** The directory those references resolve in (ONNX Runtime's model_external_initializers_file_folder_path). */
  weightsDir: string;
}

/**
 * The model with a graph edit (extra outputs, and see inPlaceEdit), built in memory: every weight stays where it is
 * (in the model file, its external data) and the graph refers to it there, so the result is kilobytes, nothing is
 * written (a read-only volume or Hugging Face cache loads the same way) and loading it holds no second copy of the
 * weights. The references name the files where they really are: ONNX Runtime refuses weights whose path leaves that
 * directory, links included, and a Hugging Face cache snapshot links each file to a blob elsewhere. Throws when the
 * weight files lie in several directories.
 */
export async function editedModel(onnxPath: string, edit: GraphEdit): Promise<EditedModel> {
  const weightsDir = path.dirname(await realpath(onnxPath));
  const locate = (file: string): string => {
    const real = realpathSync(path.join(path.dirname(onnxPath), file));
    if (path.dirname(real) !== weightsDir)
      throw new Error(`the model's weight files lie in several directories (${real} is not in ${weightsDir})`);
    return path.basename(real);
  };
  return { bytes: withGraphEditReferencingWeights(onnxPath, edit, locate), weightsDir };
}
