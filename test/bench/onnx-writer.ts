/**
 * A minimal ONNX (protobuf) writer for test fixtures: enough of ModelProto to describe small graphs with
 * initializers and symbolic dimensions, so tests build real models without Python.
 */

type Dim = number | string;

export interface OnnxValue {
  name: string;
  /** ONNX TensorProto.DataType: 1 float, 7 int64, 9 bool. */
  elemType: number;
  dims: Dim[];
}

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Integer attributes (e.g. Concat's `axis`). */
  attributes?: Record<string, number>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface OnnxGraph {
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  opset?: number;
}

export function encodeModel(graph: OnnxGraph): Buffer {
  const graphBytes = concat([
    ...graph.nodes.map((node, index) =>
      field(
        1,
        concat([
          ...node.inputs.map((input) => stringField(1, input)),
          ...node.outputs.map((output) => stringField(2, output)),
          stringField(3, node.name ?? `node${index}`),
          stringField(4, node.opType),
          // AttributeProto: name (1), i (3), type (20) = INT (2).
          ...Object.entries(node.attributes ?? {}).map(([name, value]) =>
            field(5, concat([stringField(1, name), varintField(3, value), varintField(20, 2)])),
          ),
        ]),
      ),
    ),
    stringField(2, 'fixture'),
    ...graph.initializers.map((init) =>
      field(
        5,
        concat([
          ...init.dims.map((dim) => varintField(1, dim)),
          varintField(2, init.data instanceof BigInt64Array ? 7 : 1),
          stringField(8, init.name),
          field(9, Buffer.from(init.data.buffer, init.data.byteOffset, init.data.byteLength)),
        ]),
      ),
    ),
    ...graph.inputs.map((value) => field(11, valueInfo(value))),
    ...graph.outputs.map((value) => field(12, valueInfo(value))),
  ]);
  return concat([
    varintField(1, 8),
    stringField(2, 'llmops-test'),
    field(7, graphBytes),
    field(8, concat([stringField(1, ''), varintField(2, graph.opset ?? 17)])),
  ]);
}

/** x [batch, inFeatures] → MatMul → Add → Relu → MatMul → y [batch, outFeatures]: a small MLP with a symbolic batch. */
export function mlpModel(
  options: { inFeatures?: number; hidden?: number; outFeatures?: number; batchDim?: Dim } = {},
): Buffer {
  const inFeatures = options.inFeatures ?? 16;
  const hidden = options.hidden ?? 32;
  const outFeatures = options.outFeatures ?? 4;
  const batch = options.batchDim ?? 'batch';
  const weights = (count: number, seed: number) =>
    Float32Array.from({ length: count }, (_, index) => Math.sin(index * 0.37 + seed) * 0.1);
  return encodeModel({
    inputs: [{ name: 'x', elemType: 1, dims: [batch, inFeatures] }],
    outputs: [{ name: 'y', elemType: 1, dims: [batch, outFeatures] }],
    nodes: [
      { opType: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'] },
      { opType: 'Add', inputs: ['h', 'b1'], outputs: ['hb'] },
      { opType: 'Relu', inputs: ['hb'], outputs: ['r'] },
      { opType: 'MatMul', inputs: ['r', 'w2'], outputs: ['y'] },
    ],
    initializers: [
      { name: 'w1', dims: [inFeatures, hidden], data: weights(inFeatures * hidden, 1) },
      { name: 'b1', dims: [hidden], data: weights(hidden, 2) },
      { name: 'w2', dims: [hidden, outFeatures], data: weights(hidden * outFeatures, 3) },
    ],
  });
}

function valueInfo(value: OnnxValue): Buffer {
  const dims = value.dims.map((dim) => field(1, typeof dim === 'number' ? varintField(1, dim) : stringField(2, dim)));
  const tensorType = concat([varintField(1, value.elemType), field(2, concat(dims))]);
  return concat([stringField(1, value.name), field(2, field(1, tensorType))]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = BigInt(value);
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0n);
  return Buffer.from(bytes);
}

function varintField(number: number, value: number): Buffer {
  return concat([varint(number << 3), varint(value)]);
}

function field(number: number, payload: Buffer): Buffer {
  return concat([varint((number << 3) | 2), varint(payload.length), payload]);
}

function stringField(number: number, value: string): Buffer {
  return field(number, Buffer.from(value, 'utf8'));
}

function concat(parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}
