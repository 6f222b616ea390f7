import type * as Ort from 'onnxruntime-node';
import { usageError } from '../errors.js';
import { LOGITS_INDEX_INPUT } from './last-logits.js';
import type { ModelConfig } from './model-files.js';
import { readOnnxOperatorTypes } from './onnx-outputs.js';

export interface ValueInfo {
  name: string;
  type: string;
  /** Numbers for fixed dimensions, names for symbolic ones. */
  dims: Array<number | string>;
}

export interface KvLayer {
  pastKey: string;
  pastValue: string;
  presentKey: string;
  presentValue: string;
  /** The run's new keys and values alone (`new_key_values.N.key`), where the export has them: see KvCachePath `in-place`. */
  newKey?: string;
  newValue?: string;
}

/** A decoder's I/O contract, read from the session metadata and config.json — never assumed from positions. */
export interface DecoderSignature {
  inputIds: string;
  attentionMask: string | null;
  positionIds: string | null;
  /** Older merged decoders switch between the prefill and decode subgraphs with this boolean input. */
  useCacheBranch: string | null;
  /** The input naming the one position per row whose logits the run computes (see lastLogitsEdit); null: all. */
  logitsIndex: string | null;
  logits: string;
  logitsType: 'float32' | 'float16';
  layers: KvLayer[];
  kvType: 'float32' | 'float16';
  kvHeads: number;
  headDim: number;
  /**
   * Attention is ONNX Runtime's GroupQueryAttention (as onnxruntime-genai's builder exports it), which reads each row's
   * length from the attention mask (`seqlens_k`), so rows are right-padded, and which takes a past buffer longer than
   * the cache. Otherwise the graph concatenates past and new keys into a new present, and rows are left-padded.
   */
  groupQueryAttention: boolean;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT = /^present(?:_key_values)?\.(\d+)\.(key|value)$/;
const NEW_KV = /^new_key_values\.(\d+)\.(key|value)$/;

/** Whether an output is a layer's KV cache (`present.N.key`), the part of a step's outputs fed back at the next. */
export function isPresentOutput(name: string): boolean {
  return PRESENT.test(name);
}

export function readValueInfos(metadata: readonly Ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return metadata.map((value) =>
    value.isTensor
      ? { name: value.name, type: value.type, dims: [...value.shape] }
      : { name: value.name, type: 'non-tensor', dims: [] },
  );
}

/** Reads the decoder-with-past signature; throws a usage error naming what is missing when the model isn't one. */
export function readDecoderSignature(
  session: Ort.InferenceSession,
  config: ModelConfig,
  onnxPath: string,
  droppedPresents: readonly string[] = [],
): DecoderSignature {
  const inputs = readValueInfos(session.inputMetadata);
  const outputs = readValueInfos(session.outputMetadata);
  const inputByName = new Map(inputs.map((value) => [value.name, value]));
  // Presents the session's graph no longer computes (see inPlaceEdit) are still the layers' names, shaped as their pasts.
  for (const name of droppedPresents) {
    const past = inputByName.get(name.replace(/^present(?:_key_values)?\./, 'past_key_values.'));
    if (past) outputs.push({ ...past, name });
  }
  const outputByName = new Map(outputs.map((value) => [value.name, value]));

  if (!inputByName.has('input_ids') || !outputByName.has('logits')) {
    throw usageError(
      `${onnxPath} is not a causal language model (no input_ids input or logits output)`,
      'NOT_A_DECODER',
      {
        hint: 'generate needs a text-generation export; use `llmops bench` for other ONNX models',
      },
    );
  }

  const pastByLayer = new Map<number, Partial<KvLayer>>();
  for (const input of inputs) {
    const match = PAST.exec(input.name);
    if (!match) continue;
    const layer = pastByLayer.get(Number(match[1])) ?? {};
    if (match[2] === 'key') layer.pastKey = input.name;
    else layer.pastValue = input.name;
    pastByLayer.set(Number(match[1]), layer);
  }
  for (const output of outputs) {
    const match = PRESENT.exec(output.name);
    if (!match) continue;
    const layer = pastByLayer.get(Number(match[1]));
    if (!layer) continue;
    if (match[2] === 'key') layer.presentKey = output.name;
    else layer.presentValue = output.name;
  }
  for (const output of outputs) {
    const match = NEW_KV.exec(output.name);
    const layer = match ? pastByLayer.get(Number(match[1])) : undefined;
    if (!match || !layer) continue;
    if (match[2] === 'key') layer.newKey = output.name;
    else layer.newValue = output.name;
  }
  if (pastByLayer.size === 0) {
    throw usageError(
      `${onnxPath} has no past_key_values inputs: the engine needs a decoder with KV cache`,
      'NO_KV_CACHE',
      {
        hint: 'export with --task text-generation-with-past',
      },
    );
  }
  const layers: KvLayer[] = [];
  for (let index = 0; index < pastByLayer.size; index += 1) {
    const layer = pastByLayer.get(index);
    if (!layer?.pastKey || !layer.pastValue || !layer.presentKey || !layer.presentValue) {
      throw usageError(`${onnxPath}: layer ${index} lacks a past_key_values/present key or value`, 'BAD_KV_SIGNATURE');
    }
    layers.push(layer as KvLayer);
  }

  const firstPast = inputByName.get(layers[0]!.pastKey)!;
  const heads = config.num_attention_heads ?? config.n_head;
  const hidden = config.hidden_size ?? config.n_embd;
  const kvHeads = numeric(firstPast.dims[1]) ?? config.num_key_value_heads ?? heads;
  const headDim = numeric(firstPast.dims[3]) ?? config.head_dim ?? (hidden && heads ? hidden / heads : undefined);
  if (!kvHeads || !headDim) {
    throw usageError(
      `${onnxPath}: cannot tell the KV cache shape (config.json lacks num_attention_heads / hidden_size)`,
      'BAD_KV_SIGNATURE',
    );
  }

  const logits = outputByName.get('logits')!;
  return {
    inputIds: 'input_ids',
    attentionMask: inputByName.has('attention_mask') ? 'attention_mask' : null,
    positionIds: inputByName.has('position_ids') ? 'position_ids' : null,
    useCacheBranch: inputByName.has('use_cache_branch') ? 'use_cache_branch' : null,
    logitsIndex: inputByName.has(LOGITS_INDEX_INPUT) ? LOGITS_INDEX_INPUT : null,
    logits: 'logits',
    logitsType: logits.type === 'float16' ? 'float16' : 'float32',
    layers,
    kvType: firstPast.type === 'float16' ? 'float16' : 'float32',
    kvHeads,
    headDim,
    groupQueryAttention: readOnnxOperatorTypes(onnxPath).has('GroupQueryAttention'),
    inputs,
    outputs,
  };
}

function numeric(dim: number | string | undefined): number | undefined {
  return typeof dim === 'number' && dim > 0 ? dim : undefined;
}
