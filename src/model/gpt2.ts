import { DataType, GraphBuilder, type OnnxModel, type OnnxValueInfo } from './onnx-graph.js';

export interface Gpt2Dimensions {
  layers: number;
  heads: number;
  hidden: number;
  vocabSize: number;
  maxPositions: number;
}

/** One weight the graph needs, in HF GPT-2 naming, with how it is initialized. */
export interface WeightSpec {
  name: string;
  dims: number[];
  init: 'normal' | 'zeros' | 'ones';
  std?: number;
}

export const LAYER_NORM_EPSILON = 1e-5;

/** The weights of a GPT-2 of these dimensions, in a fixed order (the order they are generated and stored in). */
export function gpt2Weights(d: Gpt2Dimensions): WeightSpec[] {
  const e = d.hidden;
  const weights: WeightSpec[] = [
    // A wider token embedding than GPT-2's 0.02 gives peaked logits, so greedy choices are far from ties.
    { name: 'transformer.wte.weight', dims: [d.vocabSize, e], init: 'normal', std: 0.1 },
    { name: 'transformer.wpe.weight', dims: [d.maxPositions, e], init: 'normal', std: 0.01 },
  ];
  for (let l = 0; l < d.layers; l += 1) {
    const p = `transformer.h.${l}`;
    weights.push(
      { name: `${p}.ln_1.weight`, dims: [e], init: 'ones' },
      { name: `${p}.ln_1.bias`, dims: [e], init: 'zeros' },
      { name: `${p}.attn.c_attn.weight`, dims: [e, 3 * e], init: 'normal', std: 0.25 },
      { name: `${p}.attn.c_attn.bias`, dims: [3 * e], init: 'zeros' },
      { name: `${p}.attn.c_proj.weight`, dims: [e, e], init: 'normal', std: 0.25 },
      { name: `${p}.attn.c_proj.bias`, dims: [e], init: 'zeros' },
      { name: `${p}.ln_2.weight`, dims: [e], init: 'ones' },
      { name: `${p}.ln_2.bias`, dims: [e], init: 'zeros' },
      { name: `${p}.mlp.c_fc.weight`, dims: [e, 4 * e], init: 'normal', std: 0.25 },
      { name: `${p}.mlp.c_fc.bias`, dims: [4 * e], init: 'zeros' },
      { name: `${p}.mlp.c_proj.weight`, dims: [4 * e, e], init: 'normal', std: 0.25 },
      { name: `${p}.mlp.c_proj.bias`, dims: [e], init: 'zeros' },
    );
  }
  weights.push(
    { name: 'transformer.ln_f.weight', dims: [e], init: 'ones' },
    { name: 'transformer.ln_f.bias', dims: [e], init: 'zeros' },
  );
  return weights;
}

/**
 * The GPT-2 decoder-with-past graph in Optimum's text-generation-with-past signature. The causal mask is offset by
 * the past length and combined with attention_mask, so left-padded batches and cached decoding both work.
 * Weight initializers are appended by the caller (inline or external data).
 */
export function gpt2Graph(
  d: Gpt2Dimensions,
): Omit<OnnxModel, 'initializers'> & { constants: GraphBuilder['initializers'] } {
  const g = new GraphBuilder();
  const e = d.hidden;
  const headDim = e / d.heads;
  const w = (name: string) => name;

  // Shared constants.
  const scalarIndex1 = g.constInt64('const.index_1', [1], []);
  const scalarZero = g.constInt64('const.zero', [0], []);
  const scalarOne = g.constInt64('const.one', [1], []);
  const axes1 = g.constInt64('const.axes_1', [1]);
  const axes12 = g.constInt64('const.axes_1_2', [1, 2]);
  const splitSizes = g.constInt64('const.qkv_split', [e, e, e]);
  const headShape = g.constInt64('const.head_shape', [0, 0, d.heads, headDim]);
  const mergedShape = g.constInt64('const.merged_shape', [0, 0, e]);
  const zeroF = g.constFloat('const.zero_f', [0], []);
  // Large but finite: a fully masked row (a padding query) softmaxes to uniform instead of NaN.
  const maskedF = g.constFloat('const.masked_f', [-1e9], []);
  const scale = g.constFloat('const.attn_scale', [1 / Math.sqrt(headDim)], []);
  const geluA = g.constFloat('const.gelu_a', [0.044715], []);
  const geluB = g.constFloat('const.gelu_b', [Math.sqrt(2 / Math.PI)], []);
  const half = g.constFloat('const.half', [0.5], []);
  const oneF = g.constFloat('const.one_f', [1], []);

  // Attention bias [batch, 1, seq, total]: key j is visible to query i when j <= past + i and attention_mask[j] = 1.
  const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), scalarIndex1], { axis: 0 });
  const totalLen = g.op('Gather', [g.op('Shape', ['attention_mask']), scalarIndex1], { axis: 0 });
  const pastLen = g.op('Sub', [totalLen, seqLen]);
  const keyPos = g.op('Range', [scalarZero, totalLen, scalarOne]);
  const queryPos = g.op('Unsqueeze', [g.op('Range', [pastLen, totalLen, scalarOne]), axes1]);
  const causal = g.op('LessOrEqual', [keyPos, queryPos]);
  const padding = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: DataType.BOOL }), axes12]);
  const bias = g.op('Where', [g.op('And', [causal, padding]), zeroF, maskedF]);

  let hidden = g.op('Add', [
    g.op('Gather', [w('transformer.wte.weight'), 'input_ids'], { axis: 0 }),
    g.op('Gather', [w('transformer.wpe.weight'), 'position_ids'], { axis: 0 }),
  ]);
  const layerNorm = (x: string, prefix: string) =>
    g.op('LayerNormalization', [x, `${prefix}.weight`, `${prefix}.bias`], {
      axis: -1,
      epsilon: { float: LAYER_NORM_EPSILON },
    });
  const linear = (x: string, prefix: string) =>
    g.op('Add', [g.op('MatMul', [x, `${prefix}.weight`]), `${prefix}.bias`]);
  const heads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, headShape])], { perm: [0, 2, 1, 3] });

  for (let l = 0; l < d.layers; l += 1) {
    const p = `transformer.h.${l}`;
    const [q, k, v] = g.ops('Split', [linear(layerNorm(hidden, `${p}.ln_1`), `${p}.attn.c_attn`), splitSizes], 3, {
      axis: 2,
    }) as [string, string, string];
    const key = g.op('Concat', [`past_key_values.${l}.key`, heads(k)], { axis: 2 }, [`present.${l}.key`]);
    const value = g.op('Concat', [`past_key_values.${l}.value`, heads(v)], { axis: 2 }, [`present.${l}.value`]);
    const scores = g.op('Add', [
      g.op('Mul', [g.op('MatMul', [heads(q), g.op('Transpose', [key], { perm: [0, 1, 3, 2] })]), scale]),
      bias,
    ]);
    const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), value]);
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: [0, 2, 1, 3] }), mergedShape]);
    hidden = g.op('Add', [hidden, linear(merged, `${p}.attn.c_proj`)]);

    // GPT-2's tanh GELU, written out so the graph needs only opset 17 (ONNX Runtime fuses it back into one kernel).
    const x = linear(layerNorm(hidden, `${p}.ln_2`), `${p}.mlp.c_fc`);
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, geluA])]), geluB]);
    const gelu = g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [g.op('Tanh', [inner]), oneF])]);
    hidden = g.op('Add', [hidden, linear(gelu, `${p}.mlp.c_proj`)]);
  }
  // The LM head is tied to the token embedding, as in GPT-2.
  const wteT = g.op('Transpose', [w('transformer.wte.weight')], { perm: [1, 0] });
  g.op('MatMul', [layerNorm(hidden, 'transformer.ln_f'), wteT], undefined, ['logits']);

  const batch = 'batch_size';
  const total = 'past_sequence_length + sequence_length';
  const kv = (name: string, length: string): OnnxValueInfo => ({
    name,
    dataType: DataType.FLOAT,
    dims: [batch, d.heads, length, headDim],
  });
  const inputs: OnnxValueInfo[] = [
    { name: 'input_ids', dataType: DataType.INT64, dims: [batch, 'sequence_length'] },
    { name: 'attention_mask', dataType: DataType.INT64, dims: [batch, total] },
    { name: 'position_ids', dataType: DataType.INT64, dims: [batch, 'sequence_length'] },
  ];
  const outputs: OnnxValueInfo[] = [
    { name: 'logits', dataType: DataType.FLOAT, dims: [batch, 'sequence_length', d.vocabSize] },
  ];
  for (let l = 0; l < d.layers; l += 1) {
    inputs.push(
      kv(`past_key_values.${l}.key`, 'past_sequence_length'),
      kv(`past_key_values.${l}.value`, 'past_sequence_length'),
    );
    outputs.push(kv(`present.${l}.key`, total), kv(`present.${l}.value`, total));
  }
  return {
    graphName: 'tiny-gpt2',
    nodes: g.nodes,
    constants: g.initializers,
    inputs,
    outputs,
    opset: 17,
    producer: { name: 'llmops', version: '1' },
  };
}
