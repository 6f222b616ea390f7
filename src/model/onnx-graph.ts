import { ProtoWriter } from './protobuf.js';

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;

export type AttributeValue = number | number[] | string | { floats: number[] } | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes?: Record<string, AttributeValue>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  dataType: number;
  /** Raw little-endian bytes, or where they are in the external data file. */
  data: Uint8Array | { location: string; offset: number; length: number };
}

export interface OnnxValueInfo {
  name: string;
  dataType: number;
  /** Fixed sizes or symbolic names. */
  dims: Array<number | string>;
}

export interface OnnxModel {
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  opset: number;
  producer: { name: string; version: string };
  docString?: string;
}

// ModelProto / GraphProto / NodeProto / TensorProto / ValueInfoProto field numbers from onnx.proto.
const IR_VERSION = 8;

/** Serializes a model to the ONNX protobuf format. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const writer = new ProtoWriter();
  writer.int(1, IR_VERSION);
  writer.string(2, model.producer.name);
  writer.string(3, model.producer.version);
  if (model.docString) writer.string(6, model.docString);
  writer.message(7, (graph) => {
    for (const node of model.nodes) graph.message(1, (w) => encodeNode(w, node));
    graph.string(2, model.graphName);
    for (const init of model.initializers) graph.message(5, (w) => encodeTensor(w, init));
    for (const input of model.inputs) graph.message(11, (w) => encodeValueInfo(w, input));
    for (const output of model.outputs) graph.message(12, (w) => encodeValueInfo(w, output));
  });
  writer.message(8, (opset) => opset.string(1, '').int(2, model.opset));
  return writer.finish();
}

function encodeNode(w: ProtoWriter, node: OnnxNode): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, node.name);
  w.string(4, node.op);
  for (const [name, value] of Object.entries(node.attributes ?? {}))
    w.message(5, (a) => encodeAttribute(a, name, value));
}

// AttributeProto: name=1, f=2, i=3, s=4, floats=7, ints=8, type=20 (FLOAT=1, INT=2, STRING=3, FLOATS=6, INTS=7).
function encodeAttribute(w: ProtoWriter, name: string, value: AttributeValue): void {
  w.string(1, name);
  if (typeof value === 'number') w.int(3, value).int(20, 2);
  else if (typeof value === 'string') w.string(4, value).int(20, 3);
  else if (Array.isArray(value)) w.packedInts(8, value).int(20, 7);
  else if ('float' in value) w.float(2, value.float).int(20, 1);
  else {
    for (const f of value.floats) w.float(7, f);
    w.int(20, 6);
  }
}

// TensorProto: dims=1, data_type=2, name=8, raw_data=9, external_data=13, data_location=14 (EXTERNAL=1).
function encodeTensor(w: ProtoWriter, tensor: OnnxInitializer): void {
  w.packedInts(1, tensor.dims);
  w.int(2, tensor.dataType);
  w.string(8, tensor.name);
  if (tensor.data instanceof Uint8Array) {
    w.bytes(9, tensor.data);
    return;
  }
  const external = tensor.data;
  for (const [key, value] of [
    ['location', external.location],
    ['offset', String(external.offset)],
    ['length', String(external.length)],
  ] as const) {
    w.message(13, (entry) => entry.string(1, key).string(2, value));
  }
  w.int(14, 1);
}

// ValueInfoProto: name=1, type=2 → TypeProto.tensor_type=1 → elem_type=1, shape=2 → dim=1 → dim_value=1 | dim_param=2.
function encodeValueInfo(w: ProtoWriter, info: OnnxValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, info.dataType);
      tensor.message(2, (shape) => {
        for (const dim of info.dims)
          shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
      });
    }),
  );
}

/** Accumulates nodes with generated, stable names. */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  private counter = 0;

  /** Adds a node and returns its (first) output name. */
  op(op: string, inputs: string[], attributes?: Record<string, AttributeValue>, outputs?: string[]): string {
    const index = this.counter++;
    const outs = outputs ?? [`${op.toLowerCase()}_${index}`];
    this.nodes.push({ op, inputs, outputs: outs, name: `${op}_${index}`, ...(attributes ? { attributes } : {}) });
    return outs[0]!;
  }

  /** Several outputs (Split). */
  ops(op: string, inputs: string[], count: number, attributes?: Record<string, AttributeValue>): string[] {
    const index = this.counter++;
    const outs = Array.from({ length: count }, (_, i) => `${op.toLowerCase()}_${index}_${i}`);
    this.nodes.push({ op, inputs, outputs: outs, name: `${op}_${index}`, ...(attributes ? { attributes } : {}) });
    return outs;
  }

  /** A small constant tensor stored inline. */
  constInt64(name: string, values: number[], dims: number[] = [values.length]): string {
    const data = new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
    this.initializers.push({ name, dims, dataType: DataType.INT64, data });
    return name;
  }

  constFloat(name: string, values: number[], dims: number[] = [values.length]): string {
    const data = new Uint8Array(new Float32Array(values).buffer);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, data });
    return name;
  }
}
