import { performance } from 'node:perf_hooks';
import type * as Ort from 'onnxruntime-node';
import { LlmopsError, usageError } from '../errors.js';
import { concatStates, halfToFloat, pastNames, selectRows, type DecodeState } from './decode-state.js';
import {
  inPlaceBlocker,
  KvBufferPool,
  kvCapacity,
  logitsVocab,
  preallocationBlocker,
  type KvCachePath,
} from './kv-buffers.js';
import {
  bufferMask,
  emptyKv,
  gatherRightPadded,
  kvSequenceOf,
  rightPaddedMask,
  writeNewPositions,
} from './right-padded.js';
import { defaultThreadCount } from './cpu-threads.js';
import { InPlaceKv } from './in-place-kv.js';
import { locateModelFiles, type ModelConfig, type ModelFiles } from './model-files.js';
import { createSession, loadOrt, type ExecutionProvider } from './session.js';
import { isPresentOutput, readDecoderSignature, readValueInfos, type DecoderSignature } from './signature.js';
import { lastLogitsEdit } from './last-logits.js';
import { combinedEdit, readOnnxOutputNames } from './onnx-outputs.js';
import { concatNewKv, editedModel, inPlaceEdit, readGraphHeaders, type EditedModel } from './new-kv-outputs.js';
import { TextTokenizer } from './tokenizer.js';
import {
  DecoderBatch,
  type DecoderBatchOptions,
  type GenerateOptions,
  type Generation,
  type SequenceRequest,
} from './batch.js';

export interface LoadModelOptions {
  /** Model directory in Optimum or transformers.js layout. */
  dir: string;
  /** @default 'cpu' */
  provider?: ExecutionProvider;
  /** Variant in transformers.js layout (`onnx/model_<dtype>.onnx`), e.g. `fp16`, `q8`. @default fp32 */
  dtype?: string;
  /** Intra-op threads. @default one per physical core within the CPU quota (see defaultThreadCount) */
  threads?: number;
  /** Intra-op threads spin between parallel sections (see CreateSessionOptions.spinWait). @default true */
  spinWait?: boolean;
  /** ONNX Runtime graph optimization at load. @default 'all' */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * KV cache of decode steps (see KvCachePath). A path the model can't take falls back to `naive` and says why in
   * `kvCacheFallback`. The default is `in-place` for models that can take it on the CPU provider (GroupQueryAttention
   * exports with new_key_values outputs, Optimum-style Concat exports), else `naive` (on onnxruntime-node 1.30's CPU
   * provider `preallocated` was not reliably faster and held more memory: scripts/bench/kv-cache.ts).
   * @default 'in-place' where the model can, else 'naive'
   */
  kvCache?: KvCachePath;
}

/** What CausalLM.reserveKv set aside. */
export interface KvReservation {
  rows: number;
  /** Positions per row (capped at the model's context). */
  positions: number;
  /** KV memory touched up front, beside what ONNX Runtime's arena grew by. */
  bytes: number;
  /** Time it took, arena warm-up included. */
  ms: number;
}

/** How a prefill (or a chunk of one) runs. */
export interface PrefillOptions {
  /**
   * Whether to compute the logits of each row's last token. A chunk before a prompt's last samples nothing: without
   * them a graph with the last-logits edit skips its language-model head, weights and all, and `lastLogits` is
   * empty. @default true
   */
  logits?: boolean;
}

/**
 * A causal language model on ONNX Runtime: its session, signature, tokenizer, and the prefill/decode steps with a
 * KV cache. Higher-level generation (batching, sampling, stop conditions, streaming) is in DecoderBatch.
 */
export class CausalLM {
  readonly files: ModelFiles;
  readonly session: Ort.InferenceSession;
  readonly signature: DecoderSignature;
  readonly tokenizer: TextTokenizer;
  readonly provider: ExecutionProvider;
  /** ONNX Runtime's intra-op threads. */
  readonly threads: number;
  /** Cold session creation time (what a serving pod pays before it can answer). */
  readonly loadMs: number;
  /** Token ids that end a sequence. */
  readonly eosTokenIds: ReadonlySet<number>;
  readonly padTokenId: number;
  /** Maximum positions (prompt + generated) the model supports, when config.json says. */
  readonly contextLength: number | undefined;
  /** Token ids run from 0 to this (exclusive): the logits' width, from the graph or config.json, when either says. */
  readonly vocabSize: number | undefined;
  /**
   * The KV cache stays in device memory between steps (webgpu): on an H200, copying it to the host and back each step
   * made decode ~4x slower at 128 positions and ~15x at 1,024. Such a cache can't be read on the host, so a batch on
   * it can't gain or drop rows: see selectRows.
   */
  readonly kvOnDevice: boolean;
  private readonly ort: typeof Ort;
  private kvPath: KvCachePath;
  private kvFallback: string | null = null;
  private kvVerified = false;
  private readonly kvPool: KvBufferPool | null;
  /** The in-place path's buffers and the memory they are cut from (null on other paths). */
  private readonly inPlace: InPlaceKv | null;

  private constructor(init: {
    ort: typeof Ort;
    files: ModelFiles;
    session: Ort.InferenceSession;
    signature: DecoderSignature;
    tokenizer: TextTokenizer;
    provider: ExecutionProvider;
    threads: number;
    loadMs: number;
    kvCache: KvCachePath | undefined;
    kvOnDevice: boolean;
  }) {
    this.ort = init.ort;
    this.files = init.files;
    this.session = init.session;
    this.signature = init.signature;
    this.tokenizer = init.tokenizer;
    this.provider = init.provider;
    this.threads = init.threads;
    this.loadMs = init.loadMs;
    this.kvOnDevice = init.kvOnDevice;
    const config = init.files.config;
    const eos = [
      ...ids(init.files.generationConfig.eos_token_id),
      ...ids(config.eos_token_id),
      ...ids(
        init.tokenizer.specialToken('eos_token') === undefined
          ? undefined
          : init.tokenizer.tokenId(init.tokenizer.specialToken('eos_token')!),
      ),
    ];
    this.eosTokenIds = new Set(eos);
    this.padTokenId = init.files.generationConfig.pad_token_id ?? config.pad_token_id ?? eos[0] ?? 0;
    const maxLength = config.max_position_embeddings ?? config.n_positions ?? (config.n_ctx as number | undefined);
    this.contextLength = typeof maxLength === 'number' && maxLength > 0 ? maxLength : undefined;
    this.vocabSize = logitsVocab(init.signature, config.vocab_size);
    const inPlace = inPlaceBlocker(init.signature);
    const wanted = init.kvCache ?? (inPlace === null && !init.kvOnDevice ? 'in-place' : 'naive');
    const blocker =
      wanted === 'naive'
        ? null
        : init.kvOnDevice
          ? 'the KV cache stays in device memory on this provider'
          : wanted === 'in-place'
            ? inPlace
            : preallocationBlocker(init.signature, config.vocab_size);
    this.kvPath = blocker ? 'naive' : wanted;
    this.kvFallback = blocker;
    this.kvPool =
      this.kvPath === 'preallocated'
        ? new KvBufferPool(init.ort, init.signature, config.vocab_size, this.contextLength)
        : null;
    this.inPlace = this.kvPath === 'in-place' ? new InPlaceKv(init.ort, init.signature, this.contextLength) : null;
  }

  /** The KV cache path decode steps take (after any fallback). */
  get kvCache(): KvCachePath {
    return this.kvPath;
  }

  /** Why the KV path asked for (or the default) was not taken: the model could not use it. */
  get kvCacheFallback(): string | null {
    return this.kvFallback;
  }

  /**
   * Whose logits a run computes: `last`, the last position of each row only (see lastLogitsEdit), or `every` position
   * of the run, where the graph's head couldn't be edited (a merged decoder's If, a non-CPU provider).
   */
  get logitsPositions(): 'last' | 'every' {
    return this.signature.logitsIndex ? 'last' : 'every';
  }

  /**
   * How many presents ONNX Runtime builds each decode step, fetched or not: each is a layer's keys or values copied
   * whole, the per-step cost that grows with the context. 0 where in-place attention reads the past where it lies
   * (new-kv-outputs.ts: inPlaceEdit); every present on the naive path, and where an export keeps its Concat.
   */
  get presentsPerStep(): number {
    return this.session.outputNames.filter(isPresentOutput).length;
  }

  static async load(options: LoadModelOptions): Promise<CausalLM> {
    return CausalLM.loadModel(options, true);
  }

  /** `lastLogits`: whether to compute the logits of the last position only (see lastLogitsEdit) where the graph allows. */
  private static async loadModel(options: LoadModelOptions, lastLogits: boolean): Promise<CausalLM> {
    const files = await locateModelFiles(options.dir, options.dtype === undefined ? {} : { dtype: options.dtype });
    const tokenizer = await TextTokenizer.load(files.tokenizerPath, files.tokenizerConfig);
    const ort = await loadOrt();
    const provider = options.provider ?? 'cpu';
    const deviceOutputs = provider === 'webgpu' ? readOnnxOutputNames(files.onnxPath).filter(isPresentOutput) : [];
    // Graph edits, on the CPU provider: in-place on a concatenating export exposes the run's new keys and values (the
    // second inputs of the presents' Concat nodes; GroupQueryAttention exports have new_key_values), and the logits
    // are computed for the positions sampled from only.
    const graph = provider === 'cpu' ? readGraphHeaders(files.onnxPath) : null;
    const newKv = graph && (options.kvCache ?? 'in-place') === 'in-place' ? concatNewKv(graph) : null;
    const inPlace = graph && newKv ? inPlaceEdit(graph, newKv) : null;
    const edits = [inPlace, graph && lastLogits ? lastLogitsEdit(graph) : null].filter((edit) => edit !== null);
    let edited: EditedModel | null = null;
    try {
      edited = edits.length > 0 ? await editedModel(files.onnxPath, combinedEdit(edits)) : null;
    } catch (error) {
      return CausalLM.loadNaive(options, `the edited graph could not be built: ${(error as Error).message}`, false);
    }
    const started = performance.now();
    const threads = options.threads ?? defaultThreadCount();
    let session: Ort.InferenceSession;
    try {
      session = await createSession(files.onnxPath, {
        provider,
        deviceOutputs,
        threads,
        ...(edited ? { fromMemory: edited } : {}),
        ...(options.spinWait === undefined ? {} : { spinWait: options.spinWait }),
        ...(options.graphOptimizationLevel ? { graphOptimizationLevel: options.graphOptimizationLevel } : {}),
      });
    } catch (error) {
      // The model as exported may still load (or fail in its own words): the edit is only an optimization.
      if (!edited) throw error;
      return CausalLM.loadNaive(options, `the edited graph did not load: ${(error as Error).message}`, false);
    }
    const loadMs = performance.now() - started;
    // The edit drops the presents it computes attention without (they are never fetched on this path).
    let signature = readDecoderSignature(session, files.config, files.onnxPath, inPlace?.dropped);
    const types = new Map(readValueInfos(session.outputMetadata).map((output) => [output.name, output.type]));
    if (newKv && [...newKv.values()].some((name) => types.get(name) !== signature.kvType)) {
      // The new part is computed in another type and cast with the whole present: not the cache's bytes.
      await session.release();
      return CausalLM.loadNaive(
        options,
        "the model computes the step's new keys in another type than its cache",
        lastLogits,
      );
    }
    if (newKv) {
      const layers = signature.layers.map((layer) => ({
        ...layer,
        newKey: newKv.get(layer.presentKey)!,
        newValue: newKv.get(layer.presentValue)!,
      }));
      signature = { ...signature, layers };
    }
    return new CausalLM({
      ort,
      files,
      session,
      signature,
      tokenizer,
      provider,
      threads,
      loadMs,
      kvCache: options.kvCache,
      kvOnDevice: deviceOutputs.length > 0,
    });
  }

  /** The naive path after all, saying why in-place was not taken; without any graph edit when one failed. */
  private static async loadNaive(options: LoadModelOptions, why: string, lastLogits: boolean): Promise<CausalLM> {
    const lm = await CausalLM.loadModel({ ...options, kvCache: 'naive' }, lastLogits);
    lm.kvFallback = why;
    return lm;
  }

  get config(): ModelConfig {
    return this.files.config;
  }

  /** A name for the model in results: the directory's base name. */
  get modelId(): string {
    return this.files.dir.split(/[\\/]/).filter(Boolean).pop() ?? this.files.dir;
  }

  /**
   * Runs the prompt of every row through the model at once (left-padded), starting each row's KV cache.
   * `state.lastLogits[i]` are the logits of row i's last prompt token; none with `{ logits: false }`.
   */
  async prefill(rows: readonly (readonly number[])[], options: PrefillOptions = {}): Promise<DecodeState> {
    if (rows.length === 0 || rows.some((row) => row.length === 0))
      throw usageError('every prompt needs at least one token', 'EMPTY_PROMPT');
    const logits = options.logits ?? true;
    if (this.rightPadded) return this.prefillRightPadded(rows, logits);
    const batch = rows.length;
    const length = Math.max(...rows.map((row) => row.length));
    const inputIds = new BigInt64Array(batch * length).fill(BigInt(this.padTokenId));
    const mask = new BigInt64Array(batch * length);
    const positionIds = new BigInt64Array(batch * length).fill(1n);
    rows.forEach((row, r) => {
      const pad = length - row.length;
      row.forEach((id, i) => {
        inputIds[r * length + pad + i] = BigInt(id);
        mask[r * length + pad + i] = 1n;
        positionIds[r * length + pad + i] = BigInt(i);
      });
    });
    const outputs = await this.run({
      batch,
      length,
      inputIds,
      mask,
      positionIds,
      past: this.emptyPast(batch),
      useCache: false,
      logitsAt: logits && 'last',
    });
    return {
      rows: batch,
      pastLength: length,
      mask,
      positions: rows.map((row) => row.length),
      past: this.presentsAsPast(outputs),
      lastLogits: logits ? this.lastLogits(outputs, batch) : [],
    };
  }

  /**
   * Continues the prefill of ONE sequence by a chunk of its prompt: `state` holds the chunks before (null for the
   * first). A long prompt prefilled chunk by chunk between decode steps keeps running streams' inter-token latency.
   */
  async prefillChunk(
    state: DecodeState | null,
    chunk: readonly number[],
    options: PrefillOptions = {},
  ): Promise<DecodeState> {
    if (state && state.rows !== 1) throw new Error('prefillChunk continues a single sequence');
    return this.prefillChunks(state, [chunk], options);
  }

  /**
   * Continues the prefill of every row of `state` (null: none yet) by one chunk each, all chunks of one length.
   * `state.lastLogits[i]` become the logits of row i's last chunk token; none with `{ logits: false }`.
   */
  async prefillChunks(
    state: DecodeState | null,
    chunks: readonly (readonly number[])[],
    options: PrefillOptions = {},
  ): Promise<DecodeState> {
    const length = chunks[0]?.length ?? 0;
    if (length === 0) throw usageError('a prefill chunk needs at least one token', 'EMPTY_PROMPT');
    if (chunks.some((chunk) => chunk.length !== length)) throw new Error('prefillChunks takes chunks of one length');
    if (!state) return this.prefill(chunks, options);
    const batch = chunks.length;
    if (state.rows !== batch) throw new Error(`prefillChunks got ${batch} chunks for ${state.rows} rows`);
    const logits = options.logits ?? true;
    if (this.rightPadded) return this.prefillChunksRightPadded(state, chunks, logits);
    const pastLength = state.pastLength;
    const total = pastLength + length;
    const inputIds = new BigInt64Array(batch * length);
    const positionIds = new BigInt64Array(batch * length);
    const mask = new BigInt64Array(batch * total);
    chunks.forEach((chunk, r) => {
      const start = state.positions[r]!;
      chunk.forEach((id, i) => {
        inputIds[r * length + i] = BigInt(id);
        positionIds[r * length + i] = BigInt(start + i);
      });
      mask.set(state.mask.subarray(r * pastLength, (r + 1) * pastLength), r * total);
      mask.fill(1n, r * total + pastLength, (r + 1) * total);
    });
    const outputs = await this.run({
      batch,
      length,
      inputIds,
      mask,
      positionIds,
      past: state.past,
      useCache: true,
      logitsAt: logits && 'last',
    });
    this.releaseState(state);
    return {
      rows: batch,
      pastLength: total,
      mask,
      positions: state.positions.map((position) => position + length),
      past: this.presentsAsPast(outputs),
      lastLogits: logits ? this.lastLogits(outputs, batch) : [],
    };
  }

  /** One decode step: feeds one token per row, extends every row's cache by one, updates `lastLogits`. In place. */
  async decode(state: DecodeState, tokens: readonly number[]): Promise<void> {
    const batch = state.rows;
    const pastLength = state.pastLength;
    const inputIds = new BigInt64Array(batch);
    const positionIds = new BigInt64Array(batch);
    for (let r = 0; r < batch; r += 1) {
      inputIds[r] = BigInt(tokens[r]!);
      positionIds[r] = BigInt(state.positions[r]!);
    }
    const positions = state.positions.map((position) => position + 1);
    this.inPlace?.grow(state, pastLength + 1);
    const mask = this.rightPadded ? this.rightPaddedRunMask(state.positions, 1, state) : leftPaddedDecodeMask(state);
    const step: RunInputs = { batch, length: 1, inputIds, mask, positionIds, past: state.past, useCache: true };
    const advance = (past: Map<string, Ort.Tensor>, outputs: Ort.InferenceSession.OnnxValueMapType) => {
      state.pastLength = pastLength + 1;
      state.mask = mask;
      state.positions = positions;
      state.past = past;
      state.lastLogits = this.lastLogits(outputs, batch);
    };
    if (this.kvPath === 'in-place') {
      const outputs = await this.run({ ...step, fetches: this.inPlaceFetches() });
      writeNewPositions(this.signature, state.past, outputs, state.positions, Array<number>(batch).fill(1));
      return advance(state.past, outputs);
    }
    if (this.kvPath === 'preallocated') {
      const fetches = this.kvPool!.fetches(state);
      try {
        await this.run({ ...step, fetches });
        this.kvVerified = true;
      } catch (error) {
        // A model whose outputs don't fit the shapes its metadata promised: once, fall back for good and say why.
        if (this.kvVerified) throw error;
        this.kvPath = 'naive';
        this.kvFallback = `pre-allocated outputs refused: ${(error as Error).message.split('\n')[0]}`;
        return this.decode(state, tokens);
      }
      return advance(this.kvPool!.advance(state, fetches), fetches);
    }
    const outputs = await this.run(step);
    this.releaseState(state);
    advance(this.presentsAsPast(outputs), outputs);
  }

  /** Keeps the given rows of a state (dropping finished sequences). Consumes `state`: its memory may be reused. */
  selectRows(state: DecodeState, keep: number[]): DecodeState {
    this.assertKvOnHost('drop finished sequences from a running batch');
    if (!this.rightPadded) return selectRows(this.ort, this.signature, state, keep);
    if (this.inPlace) return this.inPlace.relayout(state, keep, kvSequenceOf(state));
    const sequence = Math.max(0, ...keep.map((row) => state.positions[row]!));
    return gatherRightPadded(this.ort, this.signature, [{ state, rows: keep }], sequence);
  }

  /** Joins two batches' states (new sequences entering a running batch). Consumes both: their memory may be reused. */
  concatStates(a: DecodeState, b: DecodeState): DecodeState {
    this.assertKvOnHost('add sequences to a running batch');
    if (!this.rightPadded) return concatStates(this.ort, this.signature, a, b);
    if (this.inPlace) return this.inPlace.append(a, b);
    const sequence = Math.max(a.pastLength, b.pastLength);
    const all = (state: DecodeState) => ({ state, rows: state.positions.map((_, row) => row) });
    return gatherRightPadded(this.ort, this.signature, [all(a), all(b)], sequence);
  }

  /**
   * A state that is done with: frees the device memory of its KV cache, or on the in-place path keeps its memory for
   * the next states (other host tensors are left to the GC).
   */
  releaseState(state: DecodeState): void {
    this.inPlace?.release(state);
    if (this.kvOnDevice)
      for (const tensor of state.past.values()) if (tensor.location === 'gpu-buffer') tensor.dispose();
  }

  /**
   * Readies the in-place KV path for a long-running batch of up to `rows` sequences of up to `positions` each (capped
   * at the context): touches their KV memory, and two single sequences' beside the batch (InPlaceKv.reserveMemory),
   * and runs one decode step of that shape, so that ONNX Runtime's arena holds, touched, what the largest step needs.
   * Without it, each time the batch's cache outgrows its memory the next step waits while the OS faults in new pages:
   * on a 2-core VM 0.3-0.8 s every ~65 positions of a 16-row batch of an 86M GPT-2. What it holds stays held: as vLLM,
   * TGI and llama.cpp do, a server pays its peak KV memory at start-up. Null where the path is not in-place.
   */
  async reserveKv(rows: number, positions: number): Promise<KvReservation | null> {
    if (!this.inPlace) return null;
    if (!(Number.isSafeInteger(rows) && rows > 0 && Number.isSafeInteger(positions) && positions > 0))
      throw usageError(
        `reserveKv needs positive integers, got ${rows} rows of ${positions} positions`,
        'INVALID_INPUT',
      );
    const started = performance.now();
    const context = this.contextLength;
    const reserved = context !== undefined ? Math.min(positions, context) : positions;
    let bytes: number;
    try {
      bytes = this.inPlace.reserveMemory(rows, reserved);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      throw usageError(
        `cannot reserve KV memory for ${rows} sequences of ${reserved} positions: ${error.message}`,
        'KV_RESERVE_FAILED',
        { hint: 'reserve fewer positions or sequences (the node server: KV_RESERVE_POSITIONS, MAX_BATCH_SIZE)' },
      );
    }
    // One position per row over buffers of the full capacity: the presents ONNX Runtime allocates (and clears) are
    // those of the largest step, while the attention itself stays short.
    const past = this.inPlace.create(pastNames(this.signature), rows, kvCapacity(reserved, context));
    const state: DecodeState = {
      rows,
      pastLength: 1,
      mask: rightPaddedMask(Array<number>(rows).fill(1), 1),
      positions: Array<number>(rows).fill(1),
      past,
      lastLogits: [],
    };
    await this.decode(state, Array<number>(rows).fill(this.padTokenId));
    this.releaseState(state);
    return { rows, positions: reserved, bytes, ms: performance.now() - started };
  }

  /** The in-place path's KV memory: reserved up front, allocated since (a step that waited on fresh pages), free. */
  get kvMemory(): { reservedBytes: number; freshBytes: number; freeBytes: number } | null {
    if (!this.inPlace) return null;
    const { reservedBytes, freshBytes, freeBytes } = this.inPlace.memory;
    return { reservedBytes, freshBytes, freeBytes };
  }

  /** A continuous-batching scheduler over this model. */
  createBatch(options: DecoderBatchOptions = {}): DecoderBatch {
    return new DecoderBatch(this, options);
  }

  /** Generates a completion for one prompt (text or token ids). `onText` receives text as it becomes final. */
  async generate(
    prompt: string | readonly number[],
    options: GenerateOptions = {},
    onText?: (delta: string, tokenId: number) => void,
  ): Promise<Generation> {
    const [generation] = await this.generateBatch(
      [prompt],
      options,
      onText ? (_index, delta, tokenId) => onText(delta, tokenId) : undefined,
    );
    return generation!;
  }

  /** Generates completions for several prompts in one left-padded batch; each gets the tokens it would get alone. */
  async generateBatch(
    prompts: ReadonlyArray<string | readonly number[]>,
    options: GenerateOptions = {},
    onText?: (index: number, delta: string, tokenId: number) => void,
  ): Promise<Generation[]> {
    const batch = this.createBatch({ maxBatchSize: prompts.length });
    const sequences = prompts.map((prompt, index) => {
      const request: SequenceRequest = {
        ...options,
        promptIds: typeof prompt === 'string' ? this.tokenizer.encode(prompt) : [...prompt],
        ...(onText ? { onText: (delta: string, tokenId: number) => onText(index, delta, tokenId) } : {}),
      };
      return batch.add(request);
    });
    while (batch.activeCount + batch.pendingCount > 0) {
      if (options.signal?.aborted) {
        for (const sequence of sequences) sequence.cancel();
      }
      await batch.step();
    }
    return Promise.all(sequences.map((sequence) => sequence.done));
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /**
   * Rows right-padded (each row's cache at [0, length)): GroupQueryAttention exports, and the in-place path, whose
   * buffers keep each row's cache from position 0.
   */
  private get rightPadded(): boolean {
    return this.signature.groupQueryAttention || this.kvPath === 'in-place';
  }

  /** The attention mask of a right-padded run of `fresh` new positions per row over `state` (null: prefill). */
  private rightPaddedRunMask(lengths: readonly number[], fresh: number, state: DecodeState | null): BigInt64Array {
    // A concatenating graph attends over the whole buffer and then the new positions: mask the buffer's empty slots.
    if (state && this.kvPath === 'in-place' && !this.signature.groupQueryAttention)
      return bufferMask(lengths, kvSequenceOf(state), fresh);
    return rightPaddedMask(
      lengths.map((length) => length + fresh),
      Math.max(...lengths) + fresh,
    );
  }

  private assertKvOnHost(what: string): void {
    if (!this.kvOnDevice) return;
    // onnxruntime-node 1.30 cannot download a gpu-buffer tensor (getData aborts the process), so say so instead.
    throw new LlmopsError(
      `cannot ${what} on the ${this.provider} provider: its KV cache stays in GPU memory`,
      'KV_ON_DEVICE',
      { hint: 'run continuous batching (the node server, batches with different lengths) on --provider cpu' },
    );
  }

  private emptyPast(batch: number): Map<string, Ort.Tensor> {
    return emptyKv(this.ort, this.signature, pastNames(this.signature), batch);
  }

  /** GroupQueryAttention prefill: rows right-padded, each row's logits taken at its own last token. */
  private async prefillRightPadded(rows: readonly (readonly number[])[], logits: boolean): Promise<DecodeState> {
    const batch = rows.length;
    const lengths = rows.map((row) => row.length);
    const width = Math.max(...lengths);
    const inputIds = new BigInt64Array(batch * width).fill(BigInt(this.padTokenId));
    const positionIds = new BigInt64Array(batch * width);
    rows.forEach((row, r) =>
      row.forEach((id, i) => {
        inputIds[r * width + i] = BigInt(id);
        positionIds[r * width + i] = BigInt(i);
      }),
    );
    const mask = rightPaddedMask(lengths, width);
    const inPlace = this.kvPath === 'in-place';
    const names = pastNames(this.signature);
    const capacity = kvCapacity(width, this.contextLength);
    const buffers = this.inPlace?.create(names, batch, capacity) ?? null;
    // GroupQueryAttention's first run ignores what its past holds; a concatenating graph would attend over it.
    const past = buffers && this.signature.groupQueryAttention ? buffers : this.emptyPast(batch);
    const fetches = inPlace ? this.inPlaceFetches() : undefined;
    const last = lengths.map((length) => length - 1);
    const outputs = await this.run({
      batch,
      length: width,
      inputIds,
      mask,
      positionIds,
      past,
      useCache: false,
      ...(fetches ? { fetches } : {}),
      logitsAt: logits && last,
    });
    if (buffers) writeNewPositions(this.signature, buffers, outputs, Array<number>(batch).fill(0), lengths);
    return {
      rows: batch,
      pastLength: width,
      mask,
      positions: lengths,
      past: buffers ?? this.presentsAsPast(outputs),
      lastLogits: logits ? this.lastLogits(outputs, batch, last) : [],
    };
  }

  /**
   * GroupQueryAttention continues a prompt (sequence > 1 over a past) for one row per run only, so a batch's chunks
   * run row by row and the rows are joined again.
   */
  private async prefillChunksRightPadded(
    state: DecodeState,
    chunks: readonly (readonly number[])[],
    logits: boolean,
  ): Promise<DecodeState> {
    if (state.rows > 1) {
      const parts: DecodeState[] = [];
      for (let row = 0; row < state.rows; row += 1) {
        // A copy of each row, not selectRows: on the in-place path that reuses the state's memory.
        const alone = gatherRightPadded(this.ort, this.signature, [{ state, rows: [row] }], kvSequenceOf(state));
        parts.push(await this.prefillChunksRightPadded(alone, [chunks[row]!], logits));
      }
      const sequence = Math.max(
        ...parts.map((part) => (this.kvPath === 'in-place' ? kvSequenceOf(part) : part.pastLength)),
      );
      const joined = gatherRightPadded(
        this.ort,
        this.signature,
        parts.map((part) => ({ state: part, rows: [0] })),
        sequence,
      );
      for (const done of [state, ...parts]) this.releaseState(done);
      return joined;
    }
    const chunk = chunks[0]!;
    const start = state.positions[0]!;
    const total = start + chunk.length;
    const inputIds = BigInt64Array.from(chunk, (id) => BigInt(id));
    const positionIds = BigInt64Array.from(chunk, (_, i) => BigInt(start + i));
    const inPlace = this.kvPath === 'in-place';
    this.inPlace?.grow(state, total);
    const mask = this.rightPaddedRunMask([start], chunk.length, state);
    const fetches = inPlace ? this.inPlaceFetches() : undefined;
    const outputs = await this.run({
      batch: 1,
      length: chunk.length,
      inputIds,
      mask,
      positionIds,
      past: state.past,
      useCache: true,
      ...(fetches ? { fetches } : {}),
      logitsAt: logits && 'last',
    });
    if (inPlace) writeNewPositions(this.signature, state.past, outputs, [start], [chunk.length]);
    else this.releaseState(state);
    return {
      rows: 1,
      pastLength: total,
      mask: rightPaddedMask([total], total),
      positions: [total],
      past: inPlace ? state.past : this.presentsAsPast(outputs),
      lastLogits: logits ? this.lastLogits(outputs, 1) : [],
    };
  }

  /** In-place path: the logits and the step's new keys and values, never the cache-sized presents. */
  private inPlaceFetches(): string[] {
    return [this.signature.logits, ...this.signature.layers.flatMap((layer) => [layer.newKey!, layer.newValue!])];
  }

  private async run({
    batch,
    length,
    inputIds,
    mask,
    positionIds,
    past,
    useCache,
    fetches,
    logitsAt = 'last',
  }: RunInputs): Promise<Ort.InferenceSession.OnnxValueMapType> {
    const { Tensor } = this.ort;
    const sig = this.signature;
    const feeds: Record<string, Ort.Tensor> = { [sig.inputIds]: new Tensor('int64', inputIds, [batch, length]) };
    if (sig.logitsIndex) {
      // Each row's position (right-padded rows: their own; else the run's last), into rows × positions.
      const positions =
        logitsAt === false
          ? []
          : Array.from({ length: batch }, (_, r) => (logitsAt === 'last' ? length - 1 : logitsAt[r]!));
      const index = BigInt64Array.from(positions, (position, r) => BigInt(r * length + position));
      feeds[sig.logitsIndex] = new Tensor('int64', index, [index.length]);
    }
    if (sig.attentionMask) feeds[sig.attentionMask] = new Tensor('int64', mask, [batch, mask.length / batch]);
    if (sig.positionIds) feeds[sig.positionIds] = new Tensor('int64', positionIds, [batch, length]);
    if (sig.useCacheBranch) feeds[sig.useCacheBranch] = new Tensor('bool', new Uint8Array([useCache ? 1 : 0]), [1]);
    for (const [name, tensor] of past) feeds[name] = tensor;
    return fetches ? this.session.run(feeds, fetches) : this.session.run(feeds);
  }

  private presentsAsPast(outputs: Ort.InferenceSession.OnnxValueMapType): Map<string, Ort.Tensor> {
    const past = new Map<string, Ort.Tensor>();
    for (const layer of this.signature.layers) {
      past.set(layer.pastKey, outputs[layer.presentKey] as Ort.Tensor);
      past.set(layer.pastValue, outputs[layer.presentValue] as Ort.Tensor);
    }
    return past;
  }

  /** Each row's logits at `lastIndex[row]` (default: the last position; rows are left-padded). */
  private lastLogits(
    outputs: Ort.InferenceSession.OnnxValueMapType,
    batch: number,
    lastIndex?: readonly number[],
  ): Float32Array[] {
    const logits = outputs[this.signature.logits] as Ort.Tensor;
    const vocab = logits.dims[logits.dims.length - 1]!;
    // Some exports return only the last position's logits; handle [batch, 1, vocab] whatever the input length.
    const positions = logits.dims.length === 3 ? logits.dims[1]! : 1;
    const rows: Float32Array[] = [];
    for (let r = 0; r < batch; r += 1) {
      const index = positions === 1 ? 0 : (lastIndex?.[r] ?? positions - 1);
      const start = (r * positions + index) * vocab;
      if (logits.type === 'float16') {
        const half = logits.data as Uint16Array;
        const row = new Float32Array(vocab);
        for (let i = 0; i < vocab; i += 1) row[i] = halfToFloat(half[start + i]!);
        rows.push(row);
      } else rows.push((logits.data as Float32Array).subarray(start, start + vocab));
    }
    return rows;
  }
}

/**
 * Whose logits a run computes where the graph lets it choose (see lastLogitsEdit): each row's last position, each
 * row's own (right-padded rows), or none.
 */
type LogitsAt = 'last' | readonly number[] | false;

/** One model run: `length` new positions for each of `batch` rows, over `past`. */
interface RunInputs {
  batch: number;
  length: number;
  inputIds: BigInt64Array;
  mask: BigInt64Array;
  positionIds: BigInt64Array;
  past: Map<string, Ort.Tensor>;
  /** The merged decoder's branch: false for a run with no past yet. */
  useCache: boolean;
  /** Outputs to fetch (or preallocated tensors to fill); all of them when absent. */
  fetches?: Record<string, Ort.Tensor> | string[];
  /** @default 'last' */
  logitsAt?: LogitsAt;
}

/** The attention mask of a left-padded decode step: each row's past mask and a 1 for the new token. */
function leftPaddedDecodeMask(state: DecodeState): BigInt64Array {
  const { rows, pastLength } = state;
  const mask = new BigInt64Array(rows * (pastLength + 1));
  for (let r = 0; r < rows; r += 1) {
    mask.set(state.mask.subarray(r * pastLength, (r + 1) * pastLength), r * (pastLength + 1));
    mask[r * (pastLength + 1) + pastLength] = 1n;
  }
  return mask;
}

function ids(value: number | number[] | null | undefined): number[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
