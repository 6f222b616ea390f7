import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';

// ONNX protobuf field numbers (onnx.proto): ModelProto.graph, GraphProto.node and .output, ValueInfoProto.name,
// NodeProto.op_type.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;
const NODE_OP_TYPE = 4;
const WINDOW_BYTES = 64 * 1024;

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

// GraphProto.initializer, TensorProto.external_data.
const GRAPH_INITIALIZER = 5;
const TENSOR_EXTERNAL_DATA = 13;

/**
 * Whether any initializer of the main graph keeps its bytes in another file. ONNX Runtime finds such files only
 * relative to the model's own path, so a model that has them can't be loaded from bytes in memory.
 */
export function hasExternalData(modelPath: string): boolean {
  const reader = new FieldReader(modelPath);
  try {
    const graph = reader.find(0, reader.size, MODEL_GRAPH);
    if (!graph) return false;
    for (
      let tensor = reader.find(graph.start, graph.end, GRAPH_INITIALIZER);
      tensor;
      tensor = reader.find(tensor.end, graph.end, GRAPH_INITIALIZER)
    ) {
      if (reader.find(tensor.start, tensor.end, TENSOR_EXTERNAL_DATA)) return true;
    }
    return false;
  } finally {
    reader.close();
  }
}

/** One string field (`inner`) of every repeated `outer` message of the main graph. */
function readGraphStrings(modelPath: string, outer: number, inner: number): string[] {
  const reader = new FieldReader(modelPath);
  try {
    const graph = reader.find(0, reader.size, MODEL_GRAPH);
    if (!graph) return [];
    const strings: string[] = [];
    for (let message = reader.find(graph.start, graph.end, outer); message;) {
      const field = reader.find(message.start, message.end, inner);
      if (field) strings.push(new TextDecoder().decode(reader.bytes(field.start, field.end - field.start)));
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
      const tag = this.varint(position);
      position = tag.next;
      const wireType = Number(tag.value & 7n);
      const number = Number(tag.value >> 3n);
      let payloadStart = position;
      if (wireType === 0) position = this.varint(position).next;
      else if (wireType === 1) position += 8;
      else if (wireType === 5) position += 4;
      else if (wireType === 2) {
        const length = this.varint(position);
        payloadStart = length.next;
        position = payloadStart + Number(length.value);
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

// NodeProto.input and .output (repeated strings).
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const GRAPH_OUTPUT_TAG = (GRAPH_OUTPUT << 3) | 2;
const MODEL_GRAPH_TAG = (MODEL_GRAPH << 3) | 2;

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
}

/** The main graph's nodes (operator type, input and output names), read from field headers as above. */
export function readOnnxNodes(modelPath: string): OnnxNode[] {
  const reader = new FieldReader(modelPath);
  try {
    const graph = reader.find(0, reader.size, MODEL_GRAPH);
    if (!graph) return [];
    const text = (field: { start: number; end: number }) =>
      new TextDecoder().decode(reader.bytes(field.start, field.end - field.start));
    const all = (node: { start: number; end: number }, number: number) => {
      const values: string[] = [];
      for (
        let field = reader.find(node.start, node.end, number);
        field;
        field = reader.find(field.end, node.end, number)
      )
        values.push(text(field));
      return values;
    };
    const nodes: OnnxNode[] = [];
    for (
      let node = reader.find(graph.start, graph.end, GRAPH_NODE);
      node;
      node = reader.find(node.end, graph.end, GRAPH_NODE)
    ) {
      const opType = reader.find(node.start, node.end, NODE_OP_TYPE);
      nodes.push({
        opType: opType ? text(opType) : '',
        inputs: all(node, NODE_INPUT),
        outputs: all(node, NODE_OUTPUT),
      });
    }
    return nodes;
  } finally {
    reader.close();
  }
}

/**
 * The model's bytes with more graph outputs: existing values, by name (ONNX Runtime infers their types). Only the
 * graph field's length changes; everything else is copied as it is.
 */
export function withGraphOutputs(modelPath: string, names: readonly string[]): Buffer {
  const reader = new FieldReader(modelPath);
  let graph: { start: number; end: number } | null;
  try {
    graph = reader.find(0, reader.size, MODEL_GRAPH);
  } finally {
    reader.close();
  }
  if (!graph) throw new Error(`${modelPath} has no graph`);
  const model = readFileSync(modelPath);
  const added = graphOutputFields(names);
  const headerStart = graph.start - 1 - varint(graph.end - graph.start).length;
  if (model[headerStart] !== MODEL_GRAPH_TAG) throw new Error(`${modelPath}: unexpected graph field header`);
  return Buffer.concat([
    model.subarray(0, headerStart),
    lengthDelimited(MODEL_GRAPH_TAG, Buffer.concat([model.subarray(graph.start, graph.end), added])),
    model.subarray(graph.end),
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

// TensorProto.raw_data and .data_location (EXTERNAL = 1); StringStringEntryProto.key and .value.
const TENSOR_RAW_DATA = 9;
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
 * The model with more graph outputs (as withGraphOutputs), its weights left where they are: every initializer's
 * `raw_data` of 1 KiB or more becomes external data at its own offset in the model file, so the result holds only the
 * graph (kilobytes, whatever the model weighs). `locate` names each weight file (the model file itself, and the
 * external data files it names) as the result will refer to it; the result must be written where those names resolve.
 * Initializers stored otherwise are kept as they are.
 */
export function withGraphOutputsReferencingWeights(
  modelPath: string,
  names: readonly string[],
  locate: (file: string) => string,
): Buffer {
  const reader = new FieldReader(modelPath);
  try {
    const graph = reader.find(0, reader.size, MODEL_GRAPH);
    if (!graph) throw new Error(`${modelPath} has no graph`);
    const modelFile = locate(path.basename(modelPath));
    const copy = (from: number, to: number) => reader.bytes(from, to - from);
    const text = (field: { start: number; end: number } | null) =>
      field ? new TextDecoder().decode(reader.bytes(field.start, field.end - field.start)) : '';
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
    graphParts.push(graphOutputFields(names));
    const modelParts: Buffer[] = [];
    for (const field of reader.fields(0, reader.size)) {
      modelParts.push(
        field.number === MODEL_GRAPH && field.wireType === 2
          ? lengthDelimited(MODEL_GRAPH_TAG, Buffer.concat(graphParts))
          : copy(field.headerStart, field.end),
      );
    }
    return Buffer.concat(modelParts);
  } finally {
    reader.close();
  }
}
