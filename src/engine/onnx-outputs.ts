import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';

// ONNX protobuf field numbers (onnx.proto): ModelProto.graph, GraphProto.node, .input and .output, ValueInfoProto.name,
// NodeProto.op_type.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;
// ValueInfoProto.type, TypeProto.tensor_type, TypeProto.Tensor.elem_type and .shape, TensorShapeProto.dim,
// TensorShapeProto.Dimension.dim_param.
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TYPE_TENSOR_ELEM_TYPE = 1;
const TYPE_TENSOR_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_PARAM = 2;
const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;
const WINDOW_BYTES = 64 * 1024;
const UTF8 = new TextDecoder();

/**
 * The graph output names of an ONNX file, read before any session exists: a device execution provider must be told at
 * session creation which outputs stay in device memory. Reads only field headers and seeks past everything else, so a
 * model with gigabytes of embedded weights costs a few small reads, not a second load.
 */
export function readOnnxOutputNames(modelPath: string): string[] {
  return readGraphStrings(modelPath, GRAPH_OUTPUT, VALUE_INFO_NAME);
}

/**
 * The operator types of an ONNX file's top-level nodes, read the same way: whether a decoder's attention is ONNX
 * Runtime's GroupQueryAttention decides how its KV cache is laid out, before the session is created.
 */
export function readOnnxOperatorTypes(modelPath: string): Set<string> {
  return new Set(readGraphStrings(modelPath, GRAPH_NODE, NODE_OP_TYPE));
}

// GraphProto.initializer; TensorProto.dims, .data_type (INT64 = 7), .int64_data, .name, .raw_data, .external_data.
const GRAPH_INITIALIZER = 5;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_INT64_DATA = 7;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const INT64 = 7;

/** One string field (`inner`) of every repeated `outer` message of the main graph. */
function readGraphStrings(modelPath: string, outer: number, inner: number): string[] {
  const reader = new FieldReader(modelPath);
  try {
    const graph = reader.find(0, reader.size, MODEL_GRAPH);
    if (!graph) return [];
    const strings: string[] = [];
    for (let message = reader.find(graph.start, graph.end, outer); message;) {
      const field = reader.find(message.start, message.end, inner);
      if (field) strings.push(UTF8.decode(reader.bytes(field.start, field.end - field.start)));
      message = reader.find(message.end, graph.end, outer);
    }
    return strings;
  } finally {
    reader.close();
  }
}

interface ProtobufField {
  number: number;
  wireType: number;
  headerStart: number;
  payloadStart: number;
  end: number;
}

/** Positional reads of protobuf field headers through a small window over the file. */
class FieldReader {
  readonly size: number;
  private readonly fd: number;
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The first length-delimited field `field` in [from, end): where its payload starts and ends, or null. */
  find(from: number, end: number, field: number): { start: number; end: number } | null {
    for (const found of this.fields(from, end)) {
      if (found.number === field && found.wireType === 2) return { start: found.payloadStart, end: found.end };
    }
    return null;
  }

  /** Every field in [from, end), in order: its number, wire type, where its header starts, its payload and its end. */
  *fields(from: number, end: number): Generator<ProtobufField> {
    let position = from;
    while (position < end) {
      const headerStart = position;
      const tag = this.varuint(position);
      position = tag.next;
      const wireType = tag.value % 8;
      const number = Math.floor(tag.value / 8);
      let payloadStart = position;
      if (wireType === 0) position = this.varuint(position).next;
      else if (wireType === 1) position += 8;
      else if (wireType === 5) position += 4;
      else if (wireType === 2) {
        const length = this.varuint(position);
        payloadStart = length.next;
        position = payloadStart + length.value;
      } else throw new Error(`not an ONNX model: protobuf wire type ${wireType} at byte ${position}`);
      yield { number, wireType, headerStart, payloadStart, end: position };
    }
  }

  /**
   * `length` bytes at `position`. Short reads come from the window (a graph's nodes and small fields lie side by side:
   * one read per field cost thousands of reads per model); the window is replaced, never overwritten, so what was
   * returned stays valid.
   */
  bytes(position: number, length: number): Buffer {
    if (length > WINDOW_BYTES || position + length > this.size) return this.read(position, length);
    if (position < this.windowStart || position + length > this.windowStart + this.window.length) {
      this.window = this.read(position, Math.min(WINDOW_BYTES, this.size - position));
      this.windowStart = position;
    }
    return this.window.subarray(position - this.windowStart, position - this.windowStart + length);
  }

  private read(position: number, length: number): Buffer {
    const buffer = Buffer.alloc(length);
    readSync(this.fd, buffer, 0, length, position);
    return buffer;
  }

  /** The varint at `position` as a signed 64-bit integer (ONNX's int64 attributes; negative ones take ten bytes). */
  int64(position: number): number {
    return Number(BigInt.asIntN(64, this.varint(position).value));
  }

  /** A repeated int64 field's values: one varint, or a packed run of them. */
  int64s(field: ProtobufField): number[] {
    if (field.wireType === 0) return [this.int64(field.payloadStart)];
    const values: number[] = [];
    for (let at = field.payloadStart; at < field.end; at = this.varuint(at).next) values.push(this.int64(at));
    return values;
  }

  /**
   * The varint at `position` as a number: tags, lengths and skips, read for every field header, so in plain numbers
   * (a BigInt per header made walking a graph's headers several times slower). Exact below 2^53, which every tag and
   * length in a file is.
   */
  private varuint(position: number): { value: number; next: number } {
    let value = 0;
    for (let scale = 1, at = position; at < position + 10; scale *= 128, at += 1) {
      const byte = this.byteAt(at);
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return { value, next: at + 1 };
    }
    throw new Error(`not an ONNX model: malformed varint at byte ${position}`);
  }

  private varint(position: number): { value: bigint; next: number } {
    let value = 0n;
    for (let shift = 0n, at = position; shift < 70n; shift += 7n, at += 1) {
      const byte = this.byteAt(at);
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return { value, next: at + 1 };
    }
    throw new Error(`not an ONNX model: malformed varint at byte ${position}`);
  }

  private byteAt(position: number): number {
    if (position < this.windowStart || position >= this.windowStart + this.window.length) {
      if (position >= this.size) throw new Error(`not an ONNX model: truncated at byte ${position}`);
      this.window = this.read(position, Math.min(WINDOW_BYTES, this.size - position));
      this.windowStart = position;
    }
    return this.window[position - this.windowStart]!;
  }
}

// NodeProto.input, .output, .attribute; AttributeProto.name, .f, .i, .t, .ints, .type (FLOAT = 1, INT = 2, INTS = 7).
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_FLOAT = 2;
const ATTRIBUTE_INT = 3;
const ATTRIBUTE_TENSOR = 5;
const ATTRIBUTE_INTS = 8;
const ATTRIBUTE_TYPE = 20;
const ATTRIBUTE_TYPE_FLOAT = 1;
const ATTRIBUTE_TYPE_INT = 2;
const ATTRIBUTE_TYPE_INTS = 7;
const GRAPH_OUTPUT_TAG = (GRAPH_OUTPUT << 3) | 2;
const MODEL_GRAPH_TAG = (MODEL_GRAPH << 3) | 2;

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Integer and integer-list attributes, and small int64 tensor attributes (a `Constant`'s value) as lists; others are left out. */
  attributes: Record<string, number | number[]>;
  /** Float attributes (FusedMatMul's alpha). */
  floats?: Record<string, number>;
  /** The operator set's domain, where not the default one (`com.microsoft` for ONNX Runtime's own operators). */
  domain?: string;
}

/** The most elements a tensor read as a small int64 list may have: axes, shapes and indices, never weights. */
const SMALL_TENSOR_ELEMENTS = 16;

/** The values of the int64 tensor in [start, end) when it has at most SMALL_TENSOR_ELEMENTS, stored inline; else null. */
function smallInt64Tensor(reader: FieldReader, start: number, end: number): number[] | null {
  let type = 0;
  const dims: number[] = [];
  const values: number[] = [];
  let raw: { start: number; end: number } | null = null;
  for (const field of reader.fields(start, end)) {
    if (field.number === TENSOR_DATA_TYPE && field.wireType === 0) type = reader.int64(field.payloadStart);
    else if (field.number === TENSOR_DIMS) dims.push(...reader.int64s(field));
    // (Ten bytes at most per varint: a longer run is no small tensor, and isn't read.)
    else if (field.number === TENSOR_INT64_DATA && field.end - field.payloadStart <= SMALL_TENSOR_ELEMENTS * 10)
      values.push(...reader.int64s(field));
    else if (field.number === TENSOR_RAW_DATA && field.wireType === 2)
      raw = { start: field.payloadStart, end: field.end };
  }
  const elements = dims.reduce((product, dim) => product * dim, 1);
  if (type !== INT64 || elements > SMALL_TENSOR_ELEMENTS) return null;
  if (raw && raw.end - raw.start === elements * 8) {
    const bytes = reader.bytes(raw.start, raw.end - raw.start);
    return Array.from({ length: elements }, (_, index) => Number(bytes.readBigInt64LE(index * 8)));
  }
  return values.length === elements ? values : null;
}

/** What a graph edit reads of a model's main graph. */
export interface OnnxGraph {
  nodes: OnnxNode[];
  inputs: string[];
  outputs: string[];
  /**
   * Initializers by name, each with its values where it is a small int64 tensor (at most SMALL_TENSOR_ELEMENTS, stored
   * inline: the axes and shapes an exporter folded into initializers), else null.
   */
  initializers: Map<string, number[] | null>;
}

/** Each value's producing node. */
export function producersOf(nodes: readonly OnnxNode[]): Map<string, OnnxNode> {
  return new Map(nodes.flatMap((node) => node.outputs.map((name) => [name, node])));
}

/** What `name` is a Cast or Identity of, through any number of them (PyTorch's exporter casts to the cache's own type). */
export function beforeCasts(producers: ReadonlyMap<string, OnnxNode>, name: string): string {
  const node = producers.get(name);
  return node && (node.opType === 'Cast' || node.opType === 'Identity')
    ? beforeCasts(producers, node.inputs[0]!)
    : name;
}

/**
 * The main graph's nodes (operator type, domain, input and output names, integer and float attributes), input and
 * output names and initializers, in one pass over its field headers: weights are skipped, never read.
 */
export function readOnnxGraph(modelPath: string): OnnxGraph {
  const reader = new FieldReader(modelPath);
  try {
    const found: OnnxGraph = { nodes: [], inputs: [], outputs: [], initializers: new Map() };
    const graph = reader.find(0, reader.size, MODEL_GRAPH);
    if (!graph) return found;
    const text = (field: { start: number; end: number }) =>
      UTF8.decode(reader.bytes(field.start, field.end - field.start));
    for (const field of reader.fields(graph.start, graph.end)) {
      if (field.wireType !== 2) continue;
      const span = { start: field.payloadStart, end: field.end };
      if (field.number === GRAPH_NODE) found.nodes.push(readNode(reader, span, text));
      else if (field.number === GRAPH_INPUT || field.number === GRAPH_OUTPUT) {
        const name = reader.find(span.start, span.end, VALUE_INFO_NAME);
        if (name) (field.number === GRAPH_INPUT ? found.inputs : found.outputs).push(text(name));
      } else if (field.number === GRAPH_INITIALIZER) {
        const name = reader.find(span.start, span.end, TENSOR_NAME);
        if (name) found.initializers.set(text(name), smallInt64Tensor(reader, span.start, span.end));
      }
    }
    return found;
  } finally {
    reader.close();
  }
}

function readNode(
  reader: FieldReader,
  node: { start: number; end: number },
  text: (field: { start: number; end: number }) => string,
): OnnxNode {
  const strings = (number: number) => {
    const values: string[] = [];
    for (let field = reader.find(node.start, node.end, number); field; field = reader.find(field.end, node.end, number))
      values.push(text(field));
    return values;
  };
  const attributes: Record<string, number | number[]> = {};
  const floats: Record<string, number> = {};
  for (
    let attribute = reader.find(node.start, node.end, NODE_ATTRIBUTE);
    attribute;
    attribute = reader.find(attribute.end, node.end, NODE_ATTRIBUTE)
  ) {
    let name = '';
    let int: number | undefined;
    let float: number | undefined;
    const ints: number[] = [];
    for (const field of reader.fields(attribute.start, attribute.end)) {
      if (field.number === ATTRIBUTE_NAME && field.wireType === 2)
        name = text({ start: field.payloadStart, end: field.end });
      else if (field.number === ATTRIBUTE_INT && field.wireType === 0) int = reader.int64(field.payloadStart);
      else if (field.number === ATTRIBUTE_FLOAT && field.wireType === 5)
        float = reader.bytes(field.payloadStart, 4).readFloatLE(0);
      else if (field.number === ATTRIBUTE_INTS) ints.push(...reader.int64s(field));
      else if (field.number === ATTRIBUTE_TENSOR && field.wireType === 2)
        ints.push(...(smallInt64Tensor(reader, field.payloadStart, field.end) ?? []));
    }
    if (int !== undefined) attributes[name] = int;
    else if (ints.length > 0) attributes[name] = ints;
    else if (float !== undefined) floats[name] = float;
  }
  const opType = reader.find(node.start, node.end, NODE_OP_TYPE);
  const domain = reader.find(node.start, node.end, NODE_DOMAIN);
  return {
    opType: opType ? text(opType) : '',
    inputs: strings(NODE_INPUT),
    outputs: strings(NODE_OUTPUT),
    attributes,
    ...(Object.keys(floats).length > 0 ? { floats } : {}),
    ...(domain && domain.end > domain.start ? { domain: text(domain) } : {}),
  };
}

/**
 * A change to a model's main graph: graph outputs added (existing values, by name: ONNX Runtime infers their types),
 * nodes (named by their first output), graph outputs and initializers dropped, nodes, one-dimensional int64
 * constants and one-dimensional int64 inputs (of a dimension named `batch`) added.
 * Added nodes go at the end of the node list; ONNX Runtime orders nodes by their inputs when it loads a graph.
 */
export interface GraphEdit {
  outputs: readonly string[];
  dropOutputs?: ReadonlySet<string>;
  dropNodes?: ReadonlySet<string>;
  dropInitializers?: ReadonlySet<string>;
  nodes?: readonly OnnxNode[];
  constants?: ReadonlyArray<{ name: string; values: readonly bigint[] }>;
  int64Inputs?: readonly string[];
}

/** Edits of different parts of one graph, as one. */
export function combinedEdit(edits: readonly GraphEdit[]): GraphEdit {
  const union = (pick: (edit: GraphEdit) => ReadonlySet<string> | undefined) =>
    new Set(edits.flatMap((edit) => [...(pick(edit) ?? [])]));
  return {
    outputs: edits.flatMap((edit) => edit.outputs),
    dropOutputs: union((edit) => edit.dropOutputs),
    dropNodes: union((edit) => edit.dropNodes),
    dropInitializers: union((edit) => edit.dropInitializers),
    nodes: edits.flatMap((edit) => edit.nodes ?? []),
    constants: edits.flatMap((edit) => edit.constants ?? []),
    int64Inputs: edits.flatMap((edit) => edit.int64Inputs ?? []),
  };
}

/** Whether a graph field is a node or a graph output the edit drops. */
function isDropped(reader: FieldReader, field: ProtobufField, edit: GraphEdit): boolean {
  if (field.wireType !== 2) return false;
  const named = (set: ReadonlySet<string> | undefined, inner: number) => {
    if (!set?.size) return false;
    const name = reader.find(field.payloadStart, field.end, inner);
    return name !== null && set.has(UTF8.decode(reader.bytes(name.start, name.end - name.start)));
  };
  if (field.number === GRAPH_NODE) return named(edit.dropNodes, NODE_OUTPUT);
  if (field.number === GRAPH_OUTPUT) return named(edit.dropOutputs, VALUE_INFO_NAME);
  if (field.number === GRAPH_INITIALIZER) return named(edit.dropInitializers, TENSOR_NAME);
  return false;
}

/** The model's fields with its graph's replaced by `graphParts`. */
function withGraph(reader: FieldReader, graphParts: Buffer[]): Buffer {
  const modelParts: Buffer[] = [];
  for (const field of reader.fields(0, reader.size)) {
    modelParts.push(
      field.number === MODEL_GRAPH && field.wireType === 2
        ? lengthDelimited(MODEL_GRAPH_TAG, Buffer.concat(graphParts))
        : reader.bytes(field.headerStart, field.end - field.headerStart),
    );
  }
  return Buffer.concat(modelParts);
}

/** The graph fields an edit adds: its nodes, its constants (as initializers) and its outputs. */
function addedFields(edit: GraphEdit): Buffer {
  const string = (field: number, value: string) => lengthDelimited((field << 3) | 2, Buffer.from(value, 'utf8'));
  // A one-byte tag: every field written this way is numbered below 16.
  const int = (field: number, value: number) => Buffer.concat([Buffer.from([field << 3]), varint(value)]);
  const attributeTag = varint(ATTRIBUTE_TYPE << 3);
  const node = (spec: OnnxNode) =>
    lengthDelimited(
      (GRAPH_NODE << 3) | 2,
      Buffer.concat([
        ...spec.inputs.map((name) => string(NODE_INPUT, name)),
        ...spec.outputs.map((name) => string(NODE_OUTPUT, name)),
        string(NODE_OP_TYPE, spec.opType),
        ...(spec.domain ? [string(NODE_DOMAIN, spec.domain)] : []),
        ...Object.entries(spec.floats ?? {}).map(([name, value]) => {
          const bits = Buffer.alloc(4);
          bits.writeFloatLE(value);
          return lengthDelimited(
            (NODE_ATTRIBUTE << 3) | 2,
            Buffer.concat([
              string(ATTRIBUTE_NAME, name),
              Buffer.from([(ATTRIBUTE_FLOAT << 3) | 5]),
              bits,
              attributeTag,
              varint(ATTRIBUTE_TYPE_FLOAT),
            ]),
          );
        }),
        ...Object.entries(spec.attributes).map(([name, value]) => {
          if ((Array.isArray(value) ? value : [value]).some((v) => !Number.isInteger(v) || v < 0))
            throw new Error(`attribute ${name} of an added node must be non-negative integers`);
          return lengthDelimited(
            (NODE_ATTRIBUTE << 3) | 2,
            Buffer.concat([
              string(ATTRIBUTE_NAME, name),
              ...(Array.isArray(value) ? value.map((v) => int(ATTRIBUTE_INTS, v)) : [int(ATTRIBUTE_INT, value)]),
              attributeTag,
              varint(Array.isArray(value) ? ATTRIBUTE_TYPE_INTS : ATTRIBUTE_TYPE_INT),
            ]),
          );
        }),
      ]),
    );
  const constant = ({ name, values }: { name: string; values: readonly bigint[] }) => {
    const raw = Buffer.alloc(8 * values.length);
    values.forEach((value, index) => raw.writeBigInt64LE(value, 8 * index));
    return lengthDelimited(
      (GRAPH_INITIALIZER << 3) | 2,
      Buffer.concat([
        int(TENSOR_DIMS, values.length),
        int(TENSOR_DATA_TYPE, INT64),
        string(TENSOR_NAME, name),
        lengthDelimited((TENSOR_RAW_DATA << 3) | 2, raw),
      ]),
    );
  };
  // ValueInfoProto { name, type: TypeProto { tensor_type: { elem_type: INT64, shape: { dim: { dim_param: batch } } } } }
  const int64Input = (name: string) =>
    lengthDelimited(
      (GRAPH_INPUT << 3) | 2,
      Buffer.concat([
        string(VALUE_INFO_NAME, name),
        lengthDelimited(
          (VALUE_INFO_TYPE << 3) | 2,
          lengthDelimited(
            (TYPE_TENSOR << 3) | 2,
            Buffer.concat([
              int(TYPE_TENSOR_ELEM_TYPE, INT64),
              lengthDelimited(
                (TYPE_TENSOR_SHAPE << 3) | 2,
                lengthDelimited((SHAPE_DIM << 3) | 2, string(DIM_PARAM, 'batch')),
              ),
            ]),
          ),
        ),
      ]),
    );
  return Buffer.concat([
    ...(edit.nodes ?? []).map(node),
    ...(edit.constants ?? []).map(constant),
    ...(edit.int64Inputs ?? []).map(int64Input),
    graphOutputFields(edit.outputs),
  ]);
}

/** GraphProto.output fields naming existing values (ONNX Runtime infers their types). */
function graphOutputFields(names: readonly string[]): Buffer {
  return Buffer.concat(
    names.map((name) =>
      lengthDelimited(GRAPH_OUTPUT_TAG, lengthDelimited((VALUE_INFO_NAME << 3) | 2, Buffer.from(name, 'utf8'))),
    ),
  );
}

function lengthDelimited(tag: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), varint(payload.length), payload]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

// TensorProto.data_location (EXTERNAL = 1); StringStringEntryProto.key and .value.
const TENSOR_DATA_LOCATION = 14;
const EXTERNAL = 1;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
/**
 * Smaller tensors stay inside the graph: ONNX's shape inference reads constants such as Split sizes and Reshape
 * shapes only from there (onnx.external_data_helper's default size_threshold is the same 1 KiB).
 */
const EXTERNAL_MIN_BYTES = 1024;

/**
 * The model with a graph edit (see GraphEdit), its weights left where they are: every initializer's
 * `raw_data` of 1 KiB or more becomes external data at its own offset in the model file, so the result holds only the
 * graph (kilobytes, whatever the model weighs). `locate` names each weight file (the model file itself, and the
 * external data files it names) as the result will refer to it; the result is loaded where those names resolve.
 * Initializers stored otherwise are kept as they are.
 */
export function withGraphEditReferencingWeights(
  modelPath: string,
  edit: GraphEdit,
  locate: (file: string) => string,
): Buffer {
  const reader = new FieldReader(modelPath);
  try {
    const graph = reader.find(0, reader.size, MODEL_GRAPH);
    if (!graph) throw new Error(`${modelPath} has no graph`);
    const modelFile = locate(path.basename(modelPath));
    const copy = (from: number, to: number) => reader.bytes(from, to - from);
    const text = (field: { start: number; end: number } | null) =>
      field ? UTF8.decode(reader.bytes(field.start, field.end - field.start)) : '';
    const entry = (key: string, value: string) =>
      lengthDelimited(
        (TENSOR_EXTERNAL_DATA << 3) | 2,
        Buffer.concat([
          lengthDelimited((ENTRY_KEY << 3) | 2, Buffer.from(key, 'utf8')),
          lengthDelimited((ENTRY_VALUE << 3) | 2, Buffer.from(value, 'utf8')),
        ]),
      );
    const graphParts: Buffer[] = [];
    for (const field of reader.fields(graph.start, graph.end)) {
      if (isDropped(reader, field, edit)) continue;
      if (field.number !== GRAPH_INITIALIZER || field.wireType !== 2) {
        graphParts.push(copy(field.headerStart, field.end));
        continue;
      }
      const tensorParts: Buffer[] = [];
      let raw: ProtobufField | null = null;
      for (const tensorField of reader.fields(field.payloadStart, field.end)) {
        const large = tensorField.end - tensorField.payloadStart >= EXTERNAL_MIN_BYTES;
        if (tensorField.number === TENSOR_RAW_DATA && tensorField.wireType === 2 && large) raw = tensorField;
        else if (tensorField.number === TENSOR_EXTERNAL_DATA && tensorField.wireType === 2) {
          const key = text(reader.find(tensorField.payloadStart, tensorField.end, ENTRY_KEY));
          const value = text(reader.find(tensorField.payloadStart, tensorField.end, ENTRY_VALUE));
          tensorParts.push(
            key === 'location' ? entry(key, locate(value)) : copy(tensorField.headerStart, tensorField.end),
          );
        } else tensorParts.push(copy(tensorField.headerStart, tensorField.end));
      }
      if (raw) {
        tensorParts.push(
          entry('location', modelFile),
          entry('offset', String(raw.payloadStart)),
          entry('length', String(raw.end - raw.payloadStart)),
          Buffer.from([(TENSOR_DATA_LOCATION << 3) | 0, EXTERNAL]),
        );
      }
      graphParts.push(lengthDelimited((GRAPH_INITIALIZER << 3) | 2, Buffer.concat(tensorParts)));
    }
    graphParts.push(addedFields(edit));
    return withGraph(reader, graphParts);
  } finally {
    reader.close();
  }
}
