import type * as Ort from 'onnxruntime-node';
import type { DecodeState } from './decode-state.js';
import type { KvData } from './kv-memory.js';
import type { DecoderSignature } from './signature.js';

/*
 * States of a GroupQueryAttention decoder. The op reads row r's length from the attention mask (its sum, `seqlens_k`)
 * and keeps row r's keys at positions [0, length): rows are right-padded, and the mask says nothing else. The KV
 * tensors are [rows, kvHeads, sequence, headDim] with `sequence` ≥ the mask's width: exactly the width on the naive
 * path (ORT's present becomes the next past), a capacity on the in-place path (one buffer the engine writes into).
 */

/** attention_mask of right-padded rows: row r has `lengths[r]` ones, then zeros up to `width`. */
export function rightPaddedMask(lengths: readonly number[], width: number): BigInt64Array {
  const mask = new BigInt64Array(lengths.length * width);
  lengths.forEach((length, row) => mask.fill(1n, row * width, row * width + length));
  return mask;
}

/**
 * attention_mask of a concatenating graph that reads a KV buffer of `capacity` positions as its past: row r's cache
 * [0, lengths[r]), empty slots up to `capacity`, then the run's `fresh` new positions.
 */
export function bufferMask(lengths: readonly number[], capacity: number, fresh: number): BigInt64Array {
  const width = capacity + fresh;
  const mask = new BigInt64Array(lengths.length * width);
  lengths.forEach((length, row) => {
    mask.fill(1n, row * width, row * width + length);
    mask.fill(1n, row * width + capacity, (row + 1) * width);
  });
  return mask;
}

/** Positions the KV tensors of a state hold per row (dims[2]): the mask width, or more on the in-place path. */
export function kvSequenceOf(state: DecodeState): number {
  const first = state.past.values().next().value;
  return first ? first.dims[2]! : 0;
}

/** Rows taken from one state into a new one, in order. */
export interface RowSource {
  state: DecodeState;
  rows: readonly number[];
}

/**
 * A new right-padded state of the given rows, with KV tensors of `sequence` positions per row (≥ every row's length).
 * Each row keeps its cache at [0, length), so nothing moves within a row: a copy per (row, head) of its prefix.
 */
export function gatherRightPadded(
  ort: typeof Ort,
  signature: DecoderSignature,
  sources: readonly RowSource[],
  sequence: number,
): DecodeState {
  const positions = sources.flatMap(({ state, rows }) => rows.map((row) => state.positions[row]!));
  const width = Math.max(0, ...positions);
  const { kvHeads, headDim, kvType } = signature;
  const rowCount = positions.length;
  const past = new Map<string, Ort.Tensor>();
  for (const name of sources[0]!.state.past.keys()) {
    const data = newKv(kvType, rowCount * kvHeads * sequence * headDim);
    let to = 0;
    for (const { state, rows } of sources) {
      const from = state.past.get(name)!;
      const source = from.data as KvData;
      const sourceSequence = from.dims[2]!;
      for (const row of rows) {
        // Only the row's own positions: beyond them a buffer holds stale keys of nobody.
        const span = Math.min(state.positions[row]!, sourceSequence, sequence) * headDim;
        for (let head = 0; head < kvHeads; head += 1) {
          const start = (row * kvHeads + head) * sourceSequence * headDim;
          data.set(source.subarray(start, start + span), (to * kvHeads + head) * sequence * headDim);
        }
        to += 1;
      }
    }
    past.set(name, new ort.Tensor(kvType, data, [rowCount, kvHeads, sequence, headDim]));
  }
  return {
    rows: rowCount,
    pastLength: width,
    mask: rightPaddedMask(positions, width),
    positions,
    past,
    lastLogits: sources.flatMap(({ state, rows }) => rows.map((row) => state.lastLogits[row]!)),
  };
}

/** Empty pasts (no positions yet): the naive path's first run. */
export function emptyKv(
  ort: typeof Ort,
  signature: DecoderSignature,
  names: readonly string[],
  rows: number,
): Map<string, Ort.Tensor> {
  const { kvHeads, headDim, kvType } = signature;
  const past = new Map<string, Ort.Tensor>();
  for (const name of names) past.set(name, new ort.Tensor(kvType, newKv(kvType, 0), [rows, kvHeads, 0, headDim]));
  return past;
}

function newKv(type: 'float32' | 'float16', length: number): KvData {
  return type === 'float16' ? new Uint16Array(length) : new Float32Array(length);
}

/**
 * In-place path: writes a run's new keys and values (`new_key_values.*`, [rows, kvHeads, sequence, headDim]) into the
 * KV buffers: row r's first `count[r]` new positions go to its slots [from[r], from[r] + count[r]).
 */
export function writeNewPositions(
  signature: DecoderSignature,
  past: Map<string, Ort.Tensor>,
  outputs: Ort.InferenceSession.OnnxValueMapType,
  from: readonly number[],
  count: readonly number[],
): void {
  const { kvHeads, headDim } = signature;
  for (const layer of signature.layers) {
    for (const [pastName, newName] of [
      [layer.pastKey, layer.newKey!],
      [layer.pastValue, layer.newValue!],
    ] as const) {
      const buffer = past.get(pastName)!;
      const target = buffer.data as KvData;
      const capacity = buffer.dims[2]!;
      const fresh = outputs[newName] as Ort.Tensor;
      const source = fresh.data as KvData;
      const sequence = fresh.dims[2]!;
      for (let row = 0; row < from.length; row += 1) {
        for (let head = 0; head < kvHeads; head += 1) {
          const start = (row * kvHeads + head) * sequence * headDim;
          target.set(
            source.subarray(start, start + count[row]! * headDim),
            ((row * kvHeads + head) * capacity + from[row]!) * headDim,
          );
        }
      }
    }
  }
}
