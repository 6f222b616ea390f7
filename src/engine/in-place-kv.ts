import type * as Ort from 'onnxruntime-node';
import type { DecodeState } from './decode-state.js';
import { kvCapacity } from './kv-buffers.js';
import { KvMemory, type KvData } from './kv-memory.js';
import { kvSequenceOf, rightPaddedMask } from './right-padded.js';
import type { DecoderSignature } from './signature.js';

/**
 * The KV buffers of the in-place path (see KvCachePath): per state one buffer per KV tensor, [rows, kvHeads, sequence,
 * headDim] with `sequence` ≥ every row's length and each row's cache at [0, length), in memory that has room for more
 * rows and positions. States are consumed by what is made of them: their memory goes back to `memory` for the next.
 */
export class InPlaceKv {
  readonly memory: KvMemory;
  private readonly tensorCount: number;

  constructor(
    private readonly ort: typeof Ort,
    private readonly signature: DecoderSignature,
    private readonly contextLength: number | undefined,
  ) {
    this.tensorCount = signature.layers.length * 2;
    // A few buffers per KV tensor: the batch's, a prompt's being prefilled, and one on its way between them.
    this.memory = new KvMemory(4 * this.tensorCount);
  }

  /** KV tensors of `sequence` positions per row, in memory with room to grow (see room). */
  create(names: readonly string[], rows: number, sequence: number): Map<string, Ort.Tensor> {
    const { kvHeads, headDim, kvType } = this.signature;
    const elements = rows * kvHeads * sequence * headDim;
    const past = new Map<string, Ort.Tensor>();
    for (const name of names) {
      const memory = this.memory.take(kvType, elements, this.room(rows, sequence));
      past.set(name, new this.ort.Tensor(kvType, memory.subarray(0, elements), [rows, kvHeads, sequence, headDim]));
    }
    return past;
  }

  /**
   * Keeps rows `keep` (ascending) of a state, with `sequence` positions per row (≥ its own), in the same memory where
   * it fits. Moving blocks within memory the cache already touched runs at memory speed; fresh memory pays a page
   * fault per 4 KiB on first touch, which on a 2-core VM made copying a 400 MB batch cache take 1 s instead of 27 ms.
   * Only when the memory is too small are the rows copied into other memory (warm where `memory` has some), with
   * room for twice the rows and positions.
   */
  relayout(state: DecodeState, keep: readonly number[], sequence: number, roomRows = keep.length): DecodeState {
    const { kvHeads, headDim, kvType } = this.signature;
    const from = kvSequenceOf(state);
    const positions = keep.map((row) => state.positions[row]!);
    const elements = keep.length * kvHeads * sequence * headDim;
    const needed = roomRows * kvHeads * sequence * headDim;
    const past = new Map<string, Ort.Tensor>();
    for (const [name, tensor] of state.past) {
      const view = tensor.data as KvData;
      const fits = view.buffer.byteLength >= needed * view.BYTES_PER_ELEMENT;
      const memory = fits ? wholeBuffer(view) : this.memory.take(kvType, needed, this.room(roomRows, sequence));
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
        this.memory.give(view);
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
      const shape = [keep.length, kvHeads, sequence, headDim];
      past.set(name, new this.ort.Tensor(kvType, memory.subarray(0, elements), shape));
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

  /** Grows a state's buffers when `positions` would not fit them (within their memory if it can). */
  grow(state: DecodeState, positions: number): void {
    if (kvSequenceOf(state) >= positions) return;
    const rows = state.positions.map((_, row) => row);
    state.past = this.relayout(state, rows, kvCapacity(positions, this.contextLength)).past;
  }

  /** The rows of `b` appended after those of `a`, in `a`'s memory where it has room. */
  append(a: DecodeState, b: DecodeState): DecodeState {
    const sequence = Math.max(kvSequenceOf(a), kvSequenceOf(b));
    const rows = a.rows + b.rows;
    const { kvHeads, headDim } = this.signature;
    const all = (state: DecodeState) => state.positions.map((_, row) => row);
    // Room for every row first (nothing moves when a's memory already fits them at this stride), then b's rows.
    const grown = this.relayout(a, all(a), sequence, rows);
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
      this.memory.give(sourceData);
      const shape = [rows, kvHeads, sequence, headDim];
      past.set(name, new this.ort.Tensor(tensor.type, memory.subarray(0, elements), shape));
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

  /** A state that is done with: its memory is for the next ones. */
  release(state: DecodeState): void {
    for (const tensor of state.past.values()) this.memory.give(tensor.data as KvData);
  }

  /**
   * Touches memory, up front, for a batch of `rows` sequences of up to `positions` each and for two single sequences
   * beside it (a long prompt being prefilled in chunks, and one that has just joined but not yet merged with the
   * batch: see DecoderBatchOptions.maxPaddingRatio); returns the bytes.
   */
  reserveMemory(rows: number, positions: number): number {
    const { kvHeads, headDim, kvType } = this.signature;
    const perRow = kvHeads * kvCapacity(positions, this.contextLength) * headDim * (kvType === 'float16' ? 2 : 4);
    const before = this.memory.reservedBytes;
    this.memory.reserve(rows * perRow, this.tensorCount);
    this.memory.reserve(perRow, 2 * this.tensorCount);
    return this.memory.reservedBytes - before;
  }

  /** Elements of new memory: twice the rows and positions asked for (positions capped at the context). */
  private room(rows: number, sequence: number): number {
    const context = this.contextLength;
    const positions = context !== undefined && context >= sequence ? Math.min(2 * sequence, context) : 2 * sequence;
    return 2 * rows * this.signature.kvHeads * positions * this.signature.headDim;
  }
}

/** A view of all the memory behind a KV view. */
function wholeBuffer(view: KvData): KvData {
  return view instanceof Float32Array ? new Float32Array(view.buffer) : new Uint16Array(view.buffer);
}
