import type * as Ort from 'onnxruntime-node';
import type { DecodeState } from './decode-state.js';
import type { DecoderSignature } from './signature.js';

type KvData = Float32Array | Uint16Array;

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

/**
 * In-place path: keeps rows `keep` (ascending) of a state, with `sequence` positions per row (≥ its own), in the same
 * memory where it fits. Moving blocks within memory the cache already touched runs at memory speed; a fresh buffer
 * pays a page fault per 4 KiB on first touch, which on a 2-core VM made copying a 400 MB batch cache take 1 s
 * instead of 27 ms. Only when the memory is too small is a new one allocated, with room for twice the rows and
 * positions (untouched pages cost nothing until written), and the rows copied into it.
 */
export function relayoutInPlace(
  ort: typeof Ort,
  signature: DecoderSignature,
  state: DecodeState,
  keep: readonly number[],
  sequence: number,
  contextLength: number | undefined,
  roomRows = keep.length,
): DecodeState {
  const { kvHeads, headDim, kvType } = signature;
  const from = kvSequenceOf(state);
  const positions = keep.map((row) => state.positions[row]!);
  const elements = keep.length * kvHeads * sequence * headDim;
  const past = new Map<string, Ort.Tensor>();
  for (const [name, tensor] of state.past) {
    const view = tensor.data as KvData;
    const fits = view.buffer.byteLength >= roomRows * kvHeads * sequence * headDim * view.BYTES_PER_ELEMENT;
    const memory = fits ? wholeBuffer(view) : newKv(kvType, roomFor(roomRows, sequence, contextLength, signature));
    if (!fits) {
      keep.forEach((row, to) => {
        for (let head = 0; head < kvHeads; head += 1) {
          const start = (row * kvHeads + head) * from * headDim;
          memory.set(
            view.subarray(start, start + state.positions[row]! * headDim),
            (to * kvHeads + head) * sequence * headDim,
          );
        }
      });
    } else {
      // Same memory (copyWithin: memmove): first close the gaps of dropped rows (blocks only move down), then spread
      // the rows to the new stride from the last block backwards (blocks only move up), so no block is overwritten
      // before it moves.
      keep.forEach((row, to) => {
        if (row === to) return;
        for (let head = 0; head < kvHeads; head += 1) {
          const start = (row * kvHeads + head) * from * headDim;
          memory.copyWithin((to * kvHeads + head) * from * headDim, start, start + positions[to]! * headDim);
        }
      });
      if (sequence !== from) {
        for (let row = keep.length - 1; row >= 0; row -= 1) {
          for (let head = kvHeads - 1; head >= 0; head -= 1) {
            const start = (row * kvHeads + head) * from * headDim;
            memory.copyWithin((row * kvHeads + head) * sequence * headDim, start, start + positions[row]! * headDim);
          }
        }
      }
    }
    past.set(name, new ort.Tensor(kvType, memory.subarray(0, elements), [keep.length, kvHeads, sequence, headDim]));
  }
  const width = Math.max(0, ...positions);
  return {
    rows: keep.length,
    pastLength: width,
    mask: rightPaddedMask(positions, width),
    positions,
    past,
    lastLogits: keep.map((row) => state.lastLogits[row]!),
  };
}

/** In-place path: the rows of `b` appended after those of `a`, in `a`'s memory where it has room. */
export function appendInPlace(
  ort: typeof Ort,
  signature: DecoderSignature,
  a: DecodeState,
  b: DecodeState,
  contextLength: number | undefined,
): DecodeState {
  const sequence = Math.max(kvSequenceOf(a), kvSequenceOf(b));
  const rows = a.rows + b.rows;
  const { kvHeads, headDim } = signature;
  const all = (state: DecodeState) => state.positions.map((_, row) => row);
  // Room for every row first (nothing moves when a's memory already fits them at this stride), then b's rows.
  const grown = relayoutInPlace(ort, signature, a, all(a), sequence, contextLength, rows);
  const elements = rows * kvHeads * sequence * headDim;
  const past = new Map<string, Ort.Tensor>();
  for (const [name, tensor] of grown.past) {
    const memory = wholeBuffer(tensor.data as KvData);
    const source = b.past.get(name)!;
    const sourceData = source.data as KvData;
    const sourceSeq = source.dims[2]!;
    b.positions.forEach((length, row) => {
      for (let head = 0; head < kvHeads; head += 1) {
        const start = (row * kvHeads + head) * sourceSeq * headDim;
        memory.set(
          sourceData.subarray(start, start + length * headDim),
          ((a.rows + row) * kvHeads + head) * sequence * headDim,
        );
      }
    });
    past.set(name, new ort.Tensor(tensor.type, memory.subarray(0, elements), [rows, kvHeads, sequence, headDim]));
  }
  const positions = [...a.positions, ...b.positions];
  const width = Math.max(...positions);
  return {
    rows,
    pastLength: width,
    mask: rightPaddedMask(positions, width),
    positions,
    past,
    lastLogits: [...a.lastLogits, ...b.lastLogits],
  };
}

/** In-place path: KV tensors of `sequence` positions per row, in memory with room to grow (see roomFor). */
export function inPlaceKv(
  ort: typeof Ort,
  signature: DecoderSignature,
  names: readonly string[],
  rows: number,
  sequence: number,
  contextLength: number | undefined,
): Map<string, Ort.Tensor> {
  const { kvHeads, headDim, kvType } = signature;
  const past = new Map<string, Ort.Tensor>();
  for (const name of names) {
    const memory = newKv(kvType, roomFor(rows, sequence, contextLength, signature));
    const view = memory.subarray(0, rows * kvHeads * sequence * headDim);
    past.set(name, new ort.Tensor(kvType, view, [rows, kvHeads, sequence, headDim]));
  }
  return past;
}

/** Elements of new in-place memory: twice the rows and positions asked for (positions capped at the context). */
function roomFor(rows: number, sequence: number, contextLength: number | undefined, signature: DecoderSignature) {
  const positions =
    contextLength !== undefined && contextLength >= sequence ? Math.min(2 * sequence, contextLength) : 2 * sequence;
  return 2 * rows * signature.kvHeads * positions * signature.headDim;
}

/** A view of all the memory behind a KV view. */
function wholeBuffer(view: KvData): KvData {
  return view instanceof Float32Array ? new Float32Array(view.buffer) : new Uint16Array(view.buffer);
}
