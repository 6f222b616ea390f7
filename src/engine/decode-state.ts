import type * as Ort from 'onnxruntime-node';
import type { DecoderSignature } from './signature.js';

type KvData = Float32Array | Uint16Array;

/**
 * The KV cache and bookkeeping of a batch of sequences between decoder runs. Rows are left-padded to a common
 * past length (concatenating exports; selectRows and concatStates below) or right-padded (GroupQueryAttention
 * exports: right-padded.ts); `mask` marks real positions. Rows can be dropped (finished) or appended (joined)
 * between steps.
 */
export interface DecodeState {
  rows: number;
  pastLength: number;
  /** attention_mask of the past, [rows, pastLength], 1 for real tokens. */
  mask: BigInt64Array;
  /** Next position id per row (= number of real tokens so far). */
  positions: number[];
  /** Past tensors by input name, each [rows, kvHeads, pastLength, headDim] (more positions on the in-place path). */
  past: Map<string, Ort.Tensor>;
  /** Logits of each row's last position after the latest run. */
  lastLogits: Float32Array[];
}

export function pastNames(signature: DecoderSignature): string[] {
  return signature.layers.flatMap((layer) => [layer.pastKey, layer.pastValue]);
}

/** Leading padding of a row: its number of masked positions at the start. */
function leadingPadding(state: DecodeState, row: number): number {
  let count = 0;
  const base = row * state.pastLength;
  while (count < state.pastLength && state.mask[base + count] === 0n) count += 1;
  return count;
}

/**
 * Keeps only `keep` rows (in that order) and trims the left padding they all share, so a long-running batch
 * doesn't carry the prompt padding of sequences that already left.
 */
export function selectRows(
  ort: typeof Ort,
  signature: DecoderSignature,
  state: DecodeState,
  keep: number[],
): DecodeState {
  const trim = keep.length === 0 ? 0 : Math.min(...keep.map((row) => leadingPadding(state, row)));
  const pastLength = state.pastLength - trim;
  const mask = new BigInt64Array(keep.length * pastLength);
  keep.forEach((row, index) =>
    mask.set(state.mask.subarray(row * state.pastLength + trim, (row + 1) * state.pastLength), index * pastLength),
  );
  const past = new Map<string, Ort.Tensor>();
  const { kvHeads, headDim } = signature;
  for (const [name, tensor] of state.past) {
    const source = tensor.data as KvData;
    const target = newKv(source, keep.length * kvHeads * pastLength * headDim);
    keep.forEach((row, index) => {
      for (let head = 0; head < kvHeads; head += 1) {
        const from = ((row * kvHeads + head) * state.pastLength + trim) * headDim;
        target.set(source.subarray(from, from + pastLength * headDim), (index * kvHeads + head) * pastLength * headDim);
      }
    });
    past.set(name, new ort.Tensor(tensor.type, target, [keep.length, kvHeads, pastLength, headDim]));
  }
  return {
    rows: keep.length,
    pastLength,
    mask,
    positions: keep.map((row) => state.positions[row]!),
    past,
    lastLogits: keep.map((row) => state.lastLogits[row]!),
  };
}

/** Appends the rows of `b` after those of `a`, left-padding the shorter past so both share one length. */
export function concatStates(
  ort: typeof Ort,
  signature: DecoderSignature,
  a: DecodeState,
  b: DecodeState,
): DecodeState {
  const pastLength = Math.max(a.pastLength, b.pastLength);
  const rows = a.rows + b.rows;
  const mask = new BigInt64Array(rows * pastLength);
  const placeMask = (state: DecodeState, rowOffset: number) => {
    const pad = pastLength - state.pastLength;
    for (let row = 0; row < state.rows; row += 1) {
      mask.set(
        state.mask.subarray(row * state.pastLength, (row + 1) * state.pastLength),
        (rowOffset + row) * pastLength + pad,
      );
    }
  };
  placeMask(a, 0);
  placeMask(b, a.rows);

  const { kvHeads, headDim } = signature;
  const past = new Map<string, Ort.Tensor>();
  for (const [name, tensorA] of a.past) {
    const tensorB = b.past.get(name)!;
    const dataA = tensorA.data as KvData;
    const target = newKv(dataA, rows * kvHeads * pastLength * headDim);
    const place = (state: DecodeState, data: KvData, rowOffset: number) => {
      const pad = pastLength - state.pastLength;
      const block = state.pastLength * headDim;
      for (let row = 0; row < state.rows; row += 1) {
        for (let head = 0; head < kvHeads; head += 1) {
          const from = (row * kvHeads + head) * block;
          target.set(
            data.subarray(from, from + block),
            ((rowOffset + row) * kvHeads + head) * pastLength * headDim + pad * headDim,
          );
        }
      }
    };
    place(a, dataA, 0);
    place(b, tensorB.data as KvData, a.rows);
    past.set(name, new ort.Tensor(tensorA.type, target, [rows, kvHeads, pastLength, headDim]));
  }
  return {
    rows,
    pastLength,
    mask,
    positions: [...a.positions, ...b.positions],
    past,
    lastLogits: [...a.lastLogits, ...b.lastLogits],
  };
}

function newKv(like: KvData, length: number): KvData {
  return like instanceof Float32Array ? new Float32Array(length) : new Uint16Array(length);
}

/** IEEE 754 half → single precision, for fp16 logits. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
