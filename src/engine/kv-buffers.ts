import type * as Ort from 'onnxruntime-node';
import type { DecodeState } from './decode-state.js';
import type { DecoderSignature } from './signature.js';

/**
 * How decode steps get their KV cache.
 * - `naive`: ONNX Runtime allocates every `present.*` (and the logits) anew each step, and they are fed back as the
 *   next step's `past_key_values.*`: a fresh buffer the size of the whole cache per layer per step, paged in, written
 *   and later collected by V8.
 * - `preallocated`: `present.*` and the logits are bound as pre-allocated outputs (`session.run(feeds, fetches)`), into
 *   two buffers per KV tensor that swap roles each step (the one read as past, the one written as present) and grow
 *   geometrically, so a generation allocates O(log n) times instead of every step. The graph still concatenates past
 *   and new position into present, so each step writes the whole cache once. Measured on onnxruntime-node 1.30's CPU
 *   provider (scripts/bench/kv-cache.ts), this was not reliably faster than `naive` at a 1024-token context and held
 *   ~10% more peak RSS, so it is opt-in.
 * - `in-place`: one buffer per KV tensor that the engine owns, with room for more positions than the cache holds. Each
 *   step feeds it as the past (onnxruntime-node reads an input's memory in place) and fetches only the logits and the
 *   step's new keys and values, which the engine writes into the buffer: no tensor the size of the cache crosses into
 *   JavaScript per step. onnxruntime-node 1.30 returns every fetched output as a copy in a new ArrayBuffer, so
 *   fetching `present.*` — even bound to the very buffer fed as past, which GroupQueryAttention would then share —
 *   costs a copy of the whole cache each step; at a 1024-token context on the 86M GPT-2 that copy and its garbage
 *   took longer than the model's own run. (Inside ONNX Runtime the graph may still build a present it isn't asked
 *   for: Concat copies the past, unless the edited graph computes attention over past and new apart (new-kv-outputs.ts:
 *   inPlaceEdit), and the CPU GroupQueryAttention kernel zeroes a present of the buffer's size and copies each row's
 *   past into it unless present and past are one buffer.) The new keys come from `new_key_values.*`
 *   (GroupQueryAttention exports) or from an Optimum-style export's presents' Concat nodes (new-kv-outputs.ts); the
 *   default for both on the CPU provider. The buffers
 *   grow by a quarter when a sequence outgrows them, within memory that has room for more (right-padded.ts:
 *   relayoutInPlace).
 */
export const KV_CACHE_PATHS = ['naive', 'preallocated', 'in-place'] as const;
export type KvCachePath = (typeof KV_CACHE_PATHS)[number];

/** Per decode state: the spare buffer of each present output and two logits buffers (the previous step's stay valid). */
interface StateBuffers {
  spare: Map<string, ArrayBuffer>;
  logits: [ArrayBuffer | null, ArrayBuffer | null];
  parity: 0 | 1;
}

/** Why a model cannot take pre-allocated outputs (null when it can): the shapes must be known before the run. */
export function preallocationBlocker(signature: DecoderSignature, vocabSize: number | undefined): string | null {
  const logits = signature.outputs.find((output) => output.name === signature.logits);
  if (!logits || (logits.dims.length !== 2 && logits.dims.length !== 3))
    return `logits have ${logits?.dims.length ?? 0} dimensions, not [batch, (sequence,) vocab]`;
  if (logitsVocab(signature, vocabSize) === undefined)
    return 'the vocabulary size is neither in the logits shape nor in config.json';
  for (const layer of signature.layers) {
    for (const name of [layer.presentKey, layer.presentValue]) {
      const dims = signature.outputs.find((output) => output.name === name)?.dims ?? [];
      const fixed = (index: number, expected: number) => typeof dims[index] !== 'number' || dims[index] === expected;
      if (dims.length !== 4 || !fixed(1, signature.kvHeads) || !fixed(3, signature.headDim))
        return `${name} is not [batch, ${signature.kvHeads}, sequence, ${signature.headDim}]`;
    }
  }
  return null;
}

/** Why a model can't take the in-place KV path (null when it can): it needs the run's new keys and values as outputs. */
export function inPlaceBlocker(signature: DecoderSignature): string | null {
  if (signature.layers.every((layer) => layer.newKey && layer.newValue)) return null;
  return signature.groupQueryAttention
    ? "the model has no new_key_values.* outputs (the step's new keys and values)"
    : "the model's presents are not Concat(past, new keys) nodes (a merged decoder's If, or another attention), so the step's new keys can't be exposed";
}

/** The logits' last dimension when the graph fixes it, else config.json's vocab_size. */
export function logitsVocab(signature: DecoderSignature, vocabSize: number | undefined): number | undefined {
  const dims = signature.outputs.find((output) => output.name === signature.logits)?.dims ?? [];
  const last = dims[dims.length - 1];
  return typeof last === 'number' && last > 0 ? last : vocabSize;
}

/** Positions to allocate a growing KV buffer for: a quarter more than needed (at least 64), never beyond the context. */
export function kvCapacity(needed: number, contextLength: number | undefined): number {
  const wanted = Math.max(needed + 64, Math.ceil(needed * 1.25));
  return contextLength !== undefined && contextLength >= needed ? Math.min(wanted, contextLength) : wanted;
}

/** Builds the pre-allocated fetches of decode steps and swaps the buffers after each run. */
export class KvBufferPool {
  private readonly states = new WeakMap<DecodeState, StateBuffers>();
  private readonly vocab: number;
  private readonly logitsRank: number;

  constructor(
    private readonly ort: typeof Ort,
    private readonly signature: DecoderSignature,
    vocabSize: number | undefined,
    private readonly contextLength: number | undefined,
  ) {
    this.vocab = logitsVocab(signature, vocabSize)!;
    this.logitsRank = signature.outputs.find((output) => output.name === signature.logits)!.dims.length;
  }

  /** Output tensors for one decode step of `state` (one new position per row), written in place by session.run. */
  fetches(state: DecodeState): Record<string, Ort.Tensor> {
    const { kvHeads, headDim, kvType, logitsType } = this.signature;
    const buffers = this.buffersOf(state);
    const length = state.pastLength + 1;
    const elements = state.rows * kvHeads * length * headDim;
    const bytes = elements * (kvType === 'float16' ? 2 : 4);
    const fetches: Record<string, Ort.Tensor> = {};
    for (const layer of this.signature.layers) {
      for (const name of [layer.presentKey, layer.presentValue]) {
        let buffer = buffers.spare.get(name);
        if (!buffer || buffer.byteLength < bytes) {
          buffer = new ArrayBuffer(this.capacity(state.rows, length) * (kvType === 'float16' ? 2 : 4));
          buffers.spare.set(name, buffer);
        }
        const data =
          kvType === 'float16' ? new Uint16Array(buffer, 0, elements) : new Float32Array(buffer, 0, elements);
        fetches[name] = new this.ort.Tensor(kvType, data, [state.rows, kvHeads, length, headDim]);
      }
    }
    const logitsElements = state.rows * this.vocab;
    const logitsBytes = logitsElements * (logitsType === 'float16' ? 2 : 4);
    let logits = buffers.logits[buffers.parity];
    if (!logits || logits.byteLength < logitsBytes)
      logits = buffers.logits[buffers.parity] = new ArrayBuffer(logitsBytes);
    const logitsData =
      logitsType === 'float16'
        ? new Uint16Array(logits, 0, logitsElements)
        : new Float32Array(logits, 0, logitsElements);
    fetches[this.signature.logits] = new this.ort.Tensor(
      logitsType,
      logitsData,
      this.logitsRank === 3 ? [state.rows, 1, this.vocab] : [state.rows, this.vocab],
    );
    return fetches;
  }

  /** After a successful run: the presents become the past, the old pasts' buffers become the spares. */
  advance(state: DecodeState, fetches: Record<string, Ort.Tensor>): Map<string, Ort.Tensor> {
    const buffers = this.buffersOf(state);
    const past = new Map<string, Ort.Tensor>();
    for (const layer of this.signature.layers) {
      for (const [pastName, presentName] of [
        [layer.pastKey, layer.presentKey],
        [layer.pastValue, layer.presentValue],
      ] as const) {
        const old = state.past.get(pastName);
        // The old past is this state's alone (prefill outputs, a previous present, or a copy by selectRows/concatStates).
        if (old) buffers.spare.set(presentName, (old.data as Float32Array | Uint16Array).buffer as ArrayBuffer);
        past.set(pastName, fetches[presentName]!);
      }
    }
    buffers.parity = buffers.parity === 0 ? 1 : 0;
    return past;
  }

  private capacity(rows: number, length: number): number {
    return rows * this.signature.kvHeads * kvCapacity(length, this.contextLength) * this.signature.headDim;
  }

  private buffersOf(state: DecodeState): StateBuffers {
    let buffers = this.states.get(state);
    if (!buffers) {
      buffers = { spare: new Map(), logits: [null, null], parity: 0 };
      this.states.set(state, buffers);
    }
    return buffers;
  }
}
