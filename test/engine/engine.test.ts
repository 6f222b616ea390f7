import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmod,
  cp,
  mkdir,
  readdir,
  rename,
  rm,
  symlink,
  writeFile,
  readFile,
  realpath,
  truncate,
  stat,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CausalLM, IncrementalDecoder, argmax, type DecodeState } from '../../src/engine/index.js';
import { fixtureDir } from '../helpers/reference.js';
import { LlmopsError } from '../../src/errors.js';
import { buildTinyModel, ensureTinyModel } from '../../src/model/tiny.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('engine on the embedded tiny model', () => {
  let dir: string;
  let lm: CausalLM;
  before(async () => {
    dir = await ensureTinyModel();
    lm = await CausalLM.load({ dir });
  });
  after(async () => lm?.dispose());

  it('reads the decoder signature from the session', () => {
    const sig = lm.signature;
    assert.equal(sig.inputIds, 'input_ids');
    assert.equal(sig.attentionMask, 'attention_mask');
    assert.equal(sig.positionIds, 'position_ids');
    assert.equal(sig.layers.length, lm.config.n_layer);
    assert.equal(sig.kvHeads, lm.config.n_head);
    assert.equal(sig.headDim, (lm.config.n_embd as number) / (lm.config.n_head as number));
  });

  it('greedy decoding with the KV cache equals re-running the whole sequence without it', async () => {
    const prompt = lm.tokenizer.encode('The quick brown fox');
    const generation = await lm.generate(prompt, { maxTokens: 12, temperature: 0 });
    // Reference: no cache at all — every step prefills prompt + generated so far and takes the argmax.
    const ids = [...prompt];
    const expected: number[] = [];
    for (let i = 0; i < generation.tokenIds.length; i += 1) {
      const state = await lm.prefill([ids]);
      const logits = state.lastLogits[0]!;
      let best = 0;
      for (let v = 1; v < logits.length; v += 1) if (logits[v]! > logits[best]!) best = v;
      expected.push(best);
      ids.push(best);
    }
    assert.deepEqual(generation.tokenIds, expected);
    assert.equal(generation.promptTokens, prompt.length);
  });

  it('four prompts of different lengths batched give the same tokens as each alone', async () => {
    const prompts = ['Hi', 'The model server answers', 'Kubernetes scales pods on GPU metrics when', 'A'];
    const alone = [];
    for (const prompt of prompts) alone.push((await lm.generate(prompt, { maxTokens: 16 })).tokenIds);
    const batched = await lm.generateBatch(prompts, { maxTokens: 16 });
    assert.deepEqual(
      batched.map((generation) => generation.tokenIds),
      alone,
    );
  });

  it('sequences joining a running batch mid-way get the tokens they would get alone', async () => {
    const prompts = ['one two three', 'The quick brown fox jumps', 'x'];
    const alone = [];
    for (const prompt of prompts)
      alone.push((await lm.generate(prompt, { maxTokens: 10 + prompts.indexOf(prompt) * 3 })).tokenIds);
    const batch = lm.createBatch({ maxBatchSize: 8 });
    const first = batch.add({ promptIds: lm.tokenizer.encode(prompts[0]!), maxTokens: 10 });
    await batch.step();
    await batch.step();
    const second = batch.add({ promptIds: lm.tokenizer.encode(prompts[1]!), maxTokens: 13 });
    await batch.step();
    const third = batch.add({ promptIds: lm.tokenizer.encode(prompts[2]!), maxTokens: 16 });
    while (batch.activeCount + batch.pendingCount > 0) await batch.step();
    assert.deepEqual([(await first.done).tokenIds, (await second.done).tokenIds, (await third.done).tokenIds], alone);
  });

  it('a full batch queues newcomers until a slot frees', async () => {
    const batch = lm.createBatch({ maxBatchSize: 1 });
    const a = batch.add({ promptIds: lm.tokenizer.encode('a'), maxTokens: 3 });
    const b = batch.add({ promptIds: lm.tokenizer.encode('b'), maxTokens: 3 });
    await batch.step();
    assert.equal(batch.activeCount, 1);
    assert.equal(batch.pendingCount, 1);
    while (batch.activeCount + batch.pendingCount > 0) await batch.step();
    assert.equal((await a.done).tokenIds.length, 3);
    assert.equal((await b.done).finishReason, 'length');
  });

  it('each step reports its time split: whole prompts prefilled at once without a chunk size', async () => {
    const steps: Array<{ decodeRows: number; prefillTokens: number; decodeMs: number; prefillMs: number }> = [];
    const batch = lm.createBatch({ maxBatchSize: 4, onStep: (stats) => steps.push(stats) });
    const prompt = lm.tokenizer.encode('The model server answers requests with streamed tokens.');
    const sequence = batch.add({ promptIds: prompt, maxTokens: 3 });
    while (!sequence.finished) await batch.step();
    assert.deepEqual(
      steps.map((step) => [step.prefillTokens, step.decodeRows]),
      [
        [prompt.length, 0],
        [0, 1],
        [0, 1],
      ],
    );
    assert.ok(
      steps[0]!.prefillMs > 0 && steps[0]!.decodeMs === 0 && steps[1]!.decodeMs > 0 && steps[1]!.prefillMs === 0,
    );
    assert.deepEqual(batch.lastStep, steps[2]);
    assert.throws(() => lm.createBatch({ prefillChunkTokens: 0 }), /prefillChunkTokens must be a positive integer/);
  });

  it('a cancelled sequence finishes with reason cancelled and frees its slot', async () => {
    const batch = lm.createBatch();
    const keep = batch.add({ promptIds: lm.tokenizer.encode('keep'), maxTokens: 6 });
    const drop = batch.add({ promptIds: lm.tokenizer.encode('drop me'), maxTokens: 50 });
    await batch.step();
    drop.cancel();
    while (batch.activeCount + batch.pendingCount > 0) await batch.step();
    assert.equal((await drop.done).finishReason, 'cancelled');
    assert.equal((await keep.done).tokenIds.length, 6);
  });

  it('streams exactly the final text, and seeded sampling is reproducible', async () => {
    let streamed = '';
    const generation = await lm.generate(
      'Once upon a time',
      { maxTokens: 20, temperature: 0.9, topP: 0.95, seed: 42 },
      (delta) => (streamed += delta),
    );
    assert.equal(streamed, generation.text);
    const again = await lm.generate('Once upon a time', { maxTokens: 20, temperature: 0.9, topP: 0.95, seed: 42 });
    assert.deepEqual(again.tokenIds, generation.tokenIds);
    assert.ok(generation.ttftMs > 0);
  });

  it('streams multi-byte characters split across byte tokens without ever emitting U+FFFD', () => {
    const text = 'naïve 日本語 😀🚀 done';
    const ids = lm.tokenizer.encode(text);
    assert.ok(ids.length > [...text].length / 2);
    const decoder = new IncrementalDecoder(lm.tokenizer);
    const deltas = ids.map((id) => decoder.push(id));
    deltas.push(decoder.flush());
    assert.ok(
      deltas.every((delta) => !delta.includes('\uFFFD')),
      JSON.stringify(deltas),
    );
    assert.ok(deltas.filter((delta) => delta === '').length > 0, 'some tokens held back half a character');
    assert.equal(deltas.join(''), text);
  });

  it('stop strings end generation and are not returned', async () => {
    const free = await lm.generate('Hello', { maxTokens: 24 });
    const target = free.text.slice(3, 5);
    assert.ok(target.length > 0, `need generated text to pick a stop string from: ${JSON.stringify(free.text)}`);
    const stopped = await lm.generate('Hello', { maxTokens: 24, stop: [target] });
    assert.equal(stopped.finishReason, 'stop');
    assert.equal(stopped.text, free.text.slice(0, free.text.indexOf(target)));
  });

  it('max tokens gives finish reason length', async () => {
    const generation = await lm.generate('Hello', { maxTokens: 5 });
    assert.equal(generation.finishReason, 'length');
    assert.equal(generation.tokenIds.length, 5);
  });

  it('an end-of-sequence token ends generation, unless ignoreEos asks for all maxTokens', async () => {
    const eos = new Map([[[...lm.eosTokenIds][0]!, 100]]);
    const ended = await lm.generate('Hello', { maxTokens: 5, logitBias: eos });
    assert.deepEqual([ended.finishReason, ended.tokenIds.length], ['stop', 0]);
    const ignored = await lm.generate('Hello', { maxTokens: 5, logitBias: eos, ignoreEos: true });
    assert.deepEqual([ignored.finishReason, ignored.tokenIds], ['length', Array(5).fill([...lm.eosTokenIds][0])]);
  });

  it('penalties apply to every token a sequence generates, its first included, greedy too', async () => {
    const prompt = 'Hello';
    const options = { maxTokens: 12, frequencyPenalty: 1.5, presencePenalty: 0.5, repetitionPenalty: 1.3 };
    const plain = await lm.generate(prompt, { maxTokens: 12 });
    const penalised = await lm.generate(prompt, options);
    // The same greedy loop, penalties computed here from the tokens so far.
    const promptIds = lm.tokenizer.encode(prompt);
    const state = await lm.prefill([promptIds]);
    const expected: number[] = [];
    for (;;) {
      const row = state.lastLogits[0]!.slice();
      for (const id of new Set([...promptIds, ...expected])) row[id] = row[id]! > 0 ? row[id]! / 1.3 : row[id]! * 1.3;
      for (const id of new Set(expected)) row[id] = row[id]! - 0.5 - 1.5 * expected.filter((t) => t === id).length;
      const token = argmax(row);
      if (lm.eosTokenIds.has(token)) break;
      expected.push(token);
      if (expected.length === options.maxTokens) break;
      await lm.decode(state, [token]);
    }
    lm.releaseState(state);
    assert.deepEqual(penalised.tokenIds, expected);
    assert.notDeepEqual(penalised.tokenIds, plain.tokenIds, 'the penalties changed nothing: a weak test');
  });

  it('refuses a prompt longer than the context with a usage error', async () => {
    const ids = Array.from({ length: lm.contextLength! + 1 }, () => 1);
    await assert.rejects(
      lm.generate(ids, { maxTokens: 1 }),
      (error: unknown) => error instanceof LlmopsError && error.exitCode === 2,
    );
  });

  it('loads the transformers.js layout and picks dtype variants', async () => {
    const tjs = await tempDir('llmops-tjs-');
    try {
      for (const name of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'])
        await cp(path.join(dir, name), path.join(tjs, name));
      await cp(path.join(dir, 'model.onnx'), path.join(tjs, 'onnx', 'model.onnx'), { recursive: true });
      await cp(path.join(dir, 'model.onnx'), path.join(tjs, 'onnx', 'model_q8.onnx'));
      const other = await CausalLM.load({ dir: tjs });
      assert.equal(other.files.layout, 'transformers.js');
      const reference = await lm.generate('layout', { maxTokens: 8 });
      assert.deepEqual((await other.generate('layout', { maxTokens: 8 })).tokenIds, reference.tokenIds);
      await other.dispose();
      const variant = await CausalLM.load({ dir: tjs, dtype: 'q8' });
      assert.match(variant.files.onnxPath, /model_q8\.onnx$/);
      await variant.dispose();
      await assert.rejects(
        CausalLM.load({ dir: tjs, dtype: 'fp16' }),
        (error: unknown) =>
          error instanceof LlmopsError &&
          /no fp16 variant/.test(error.message) &&
          error.hint === 'available --dtype values: fp32, q8',
      );
    } finally {
      await rm(tjs, { recursive: true, force: true });
    }
  });
});

describe('engine: KV cache paths', () => {
  it("pre-allocated outputs reuse two buffers per KV tensor across steps and give the naive path's tokens", async () => {
    const dir = await ensureTinyModel();
    const pre = await CausalLM.load({ dir, kvCache: 'preallocated' });
    const naive = await CausalLM.load({ dir, kvCache: 'naive' });
    try {
      assert.equal(pre.kvCache, 'preallocated');
      assert.equal(pre.kvCacheFallback, null);
      assert.equal(naive.kvCache, 'naive');
      const prompts = ['The model server', 'Once upon a time, a small', 'GPU'];
      for (const prompt of prompts) {
        assert.deepEqual(
          (await pre.generate(prompt, { maxTokens: 40 })).tokenIds,
          (await naive.generate(prompt, { maxTokens: 40 })).tokenIds,
          prompt,
        );
      }
      // Steps write into two buffers per KV tensor that swap roles; after the first growth, no new buffer per step.
      const state = await pre.prefill([pre.tokenizer.encode('The model server answers')]);
      const buffers = new Set<ArrayBufferLike>();
      for (let step = 0; step < 24; step += 1) {
        await pre.decode(state, [state.lastLogits[0]!.indexOf(Math.max(...state.lastLogits[0]!))]);
        if (step >= 2) buffers.add((state.past.get('past_key_values.0.key')!.data as Float32Array).buffer);
      }
      assert.equal(buffers.size, 2, 'past_key_values.0.key alternates between two buffers');
    } finally {
      await pre.dispose();
      await naive.dispose();
    }
  });

  it('in-place (the default for a GroupQueryAttention export): one buffer per KV tensor, written at the new positions, grown within its memory; naive tokens', async () => {
    const dir = fixtureDir('gpt2-gqa');
    const inPlace = await CausalLM.load({ dir });
    const naive = await CausalLM.load({ dir, kvCache: 'naive' });
    try {
      assert.equal(inPlace.kvCache, 'in-place');
      assert.equal(inPlace.kvCacheFallback, null);
      const greedy = async (lm: CausalLM, onStep?: (state: DecodeState) => void) => {
        const state = await lm.prefill([[72, 101, 108, 324]]);
        const tokens: number[] = [];
        for (let step = 0; step < 100; step += 1) {
          const logits = state.lastLogits[0]!;
          tokens.push(logits.indexOf(Math.max(...logits)));
          await lm.decode(state, [tokens.at(-1)!]);
          onStep?.(state);
        }
        return tokens;
      };
      const memories = new Set<ArrayBufferLike>();
      const sizes: number[] = [];
      const tokens = await greedy(inPlace, (state) => {
        const key = state.past.get('past_key_values.0.key')!;
        memories.add((key.data as Float32Array).buffer);
        if (sizes.at(-1) !== key.dims[2]) sizes.push(key.dims[2]!);
      });
      assert.deepEqual(tokens, await greedy(naive));
      // 4 prompt tokens + 100: the first 68 positions are outgrown once, to the model's 128-position context, in the
      // memory allocated at prefill (room for twice the positions), so no step allocates a new cache.
      assert.deepEqual(sizes, [68, 128]);
      assert.equal(memories.size, 1);
    } finally {
      await inPlace.dispose();
      await naive.dispose();
    }
  });

  it('in-place rows leave and join in the memory they already use, and keep their caches', async () => {
    const lm = await CausalLM.load({ dir: fixtureDir('gpt2-gqa') });
    try {
      const prompts = [
        [72, 101, 108],
        [72, 101, 108, 324, 33],
        [101, 108],
      ];
      const key = (state: DecodeState) => state.past.get('past_key_values.1.value')!;
      const rowCache = (state: DecodeState, row: number) => {
        const tensor = key(state);
        const [, heads, sequence, dim] = tensor.dims as [number, number, number, number];
        const data = tensor.data as Float32Array;
        return Array.from({ length: heads }, (_, head) =>
          Array.from(
            data.subarray(
              (row * heads + head) * sequence * dim,
              ((row * heads + head) * sequence + state.positions[row]!) * dim,
            ),
          ),
        );
      };
      const state = await lm.prefill(prompts);
      await lm.decode(state, [5, 6, 7]);
      const before = [0, 1, 2].map((row) => rowCache(state, row));
      const memory = (key(state).data as Float32Array).buffer;
      const kept = lm.selectRows(state, [0, 2]);
      assert.equal((key(kept).data as Float32Array).buffer, memory, 'selectRows compacts in place');
      assert.deepEqual([rowCache(kept, 0), rowCache(kept, 1)], [before[0], before[2]]);
      const newcomer = await lm.prefill([[324, 33, 72, 101, 108, 324, 33]]);
      const joined = lm.concatStates(kept, newcomer);
      assert.equal((key(joined).data as Float32Array).buffer, memory, 'concatStates appends in place');
      assert.deepEqual([rowCache(joined, 0), rowCache(joined, 1)], [before[0], before[2]]);
      assert.deepEqual(rowCache(joined, 2), rowCache(newcomer, 0));
      // Past the room the first prefill allocated (twice its 3 rows and 69 positions), the rows move to new memory
      // and keep their caches.
      const crowd = await lm.prefill(Array.from({ length: 10 }, (_, i) => [72 + i, 101]));
      const crowdCaches = crowd.positions.map((_, row) => rowCache(crowd, row));
      const all = lm.concatStates(joined, crowd);
      assert.ok((key(all).data as Float32Array).buffer !== memory, 'concatStates past the room moves to new memory');
      assert.deepEqual(
        all.positions.map((_, row) => rowCache(all, row)),
        [before[0], before[2], rowCache(newcomer, 0), ...crowdCaches],
      );
    } finally {
      await lm.dispose();
    }
  });

  it('reserveKv touches KV memory up front: a continuous batch within it (chunked prefill, joins, merges) allocates none, with the same tokens', async () => {
    const dir = fixtureDir('gpt2-gqa');
    const reserved = await CausalLM.load({ dir });
    const plain = await CausalLM.load({ dir });
    const naive = await CausalLM.load({ dir, kvCache: 'naive' });
    try {
      const reservation = await reserved.reserveKv(4, 100);
      const { kvHeads, headDim, layers } = reserved.signature;
      // A batch of 4 rows and two single sequences beside it, at the capacity 100 positions grow to (a quarter more,
      // at least 64, within the model's 128).
      const expected = layers.length * 2 * (4 + 2) * kvHeads * 128 * headDim * 4;
      assert.deepEqual({ ...reservation!, ms: 0 }, { rows: 4, positions: 100, bytes: expected, ms: 0 });
      assert.deepEqual(reserved.kvMemory, { reservedBytes: expected, freshBytes: 0, freeBytes: expected });
      const run = async (lm: CausalLM) => {
        const batch = lm.createBatch({ maxBatchSize: 4, prefillChunkTokens: 8 });
        const long = Array.from({ length: 20 }, (_, i) => 72 + i);
        const first = [[72, 101, 108], [101, 108, 324], long].map((promptIds, i) =>
          batch.add({ promptIds, maxTokens: 60 + 10 * i, temperature: 0 }),
        );
        for (let step = 0; step < 12; step += 1) await batch.step();
        const late = batch.add({ promptIds: [33, 72, 101, 108], maxTokens: 50, temperature: 0 });
        while (batch.activeCount + batch.pendingCount > 0) await batch.step();
        return Promise.all([...first, late].map(async (sequence) => (await sequence.done).tokenIds));
      };
      const tokens = await run(reserved);
      assert.deepEqual(tokens, await run(plain));
      assert.equal(reserved.kvMemory.freshBytes, 0, 'no step waited on fresh memory');
      assert.ok(plain.kvMemory!.freshBytes > 0, 'without the reservation the same batch allocates');
      assert.equal(await naive.reserveKv(4, 100), null, 'only the in-place path reserves');
      await assert.rejects(reserved.reserveKv(1e9, 100), (error: LlmopsError) => {
        assert.equal(error.code, 'KV_RESERVE_FAILED');
        assert.match(error.message, /^cannot reserve KV memory for 1000000000 sequences of 100 positions: /);
        assert.match(error.hint!, /KV_RESERVE_POSITIONS/);
        return true;
      });
    } finally {
      await reserved.dispose();
      await plain.dispose();
      await naive.dispose();
    }
  });

  it('in-place is the default on a concatenating export: the Concat inputs become outputs of an edited graph built in memory that references the weights where they lie, writing nothing; a merged decoder falls back', async () => {
    const { editedModel } = await import('../../src/engine/new-kv-outputs.js');
    const embedded = await tempDir('llmops-inplace-');
    const external = await tempDir('llmops-inplace-ext-');
    await cp(await ensureTinyModel(), embedded, { recursive: true });
    await buildTinyModel({ dir: external, externalData: true });
    try {
      // The edited graph is the graph alone, whatever the layout: the weights stay in model.onnx or model.onnx_data.
      for (const dir of [embedded, external]) {
        const model = path.join(dir, 'model.onnx');
        const edited = await editedModel(model, { outputs: ['extra'] });
        assert.equal(edited.weightsDir, dir);
        const weights = (await readdir(dir)).includes('model.onnx_data')
          ? (await stat(path.join(dir, 'model.onnx_data'))).size
          : (await stat(model)).size;
        const size = edited.bytes.byteLength;
        assert.ok(size < weights / 4, `the edit is the graph, not the weights (${size} of ${weights} bytes)`);
      }

      // A Hugging Face cache snapshot: every file a link to a blob in another directory.
      const linked = path.join(external, 'snapshots', 'main');
      await mkdir(path.join(external, 'blobs'));
      await mkdir(linked, { recursive: true });
      for (const name of await readdir(external)) {
        if (name === 'blobs' || name === 'snapshots') continue;
        await rename(path.join(external, name), path.join(external, 'blobs', `blob-${name}`));
        await symlink(path.join('..', '..', 'blobs', `blob-${name}`), path.join(linked, name));
      }

      for (const dir of [embedded, linked]) {
        const weightsDir = path.dirname(await realpath(path.join(dir, 'model.onnx')));
        const before = await readdir(weightsDir);
        const lm = await CausalLM.load({ dir });
        const naive = await CausalLM.load({ dir, kvCache: 'naive' });
        try {
          assert.equal(lm.kvCache, 'in-place', dir);
          assert.equal(lm.kvCacheFallback, null);
          assert.equal(naive.kvCache, 'naive');
          assert.equal(lm.signature.groupQueryAttention, false);
          assert.ok(
            lm.signature.layers.every((layer) => layer.newKey && lm.session.outputNames.includes(layer.newKey)),
          );
          assert.deepEqual(await readdir(weightsDir), before, 'nothing is written beside the weights');
          for (const prompt of ['The model server', 'Once upon a time, a small'])
            assert.deepEqual(
              (await lm.generate(prompt, { maxTokens: 30 })).tokenIds,
              (await naive.generate(prompt, { maxTokens: 30 })).tokenIds,
            );
        } finally {
          await lm.dispose();
          await naive.dispose();
        }
      }
    } finally {
      await rm(embedded, { recursive: true, force: true });
      await rm(external, { recursive: true, force: true });
    }
    const merged = await CausalLM.load({ dir: fixtureDir('gpt2-merged'), kvCache: 'in-place' });
    try {
      assert.equal(merged.kvCache, 'naive');
      assert.match(merged.kvCacheFallback!, /not Concat\(past, new keys\) nodes/);
      const { inPlaceBlocker } = await import('../../src/engine/kv-buffers.js');
      const gqa = { ...merged.signature, groupQueryAttention: true };
      assert.match(inPlaceBlocker(gqa)!, /no new_key_values\.\* outputs/);
    } finally {
      await merged.dispose();
    }
  });

  it("reads a graph's small int64 tensors, which the in-place edit checks repeat_kv's axes by: initializers and Constant nodes' values, never weights", async () => {
    const { readOnnxGraph } = await import('../../src/engine/onnx-outputs.js');
    const tiny = readOnnxGraph(path.join(await ensureTinyModel(), 'model.onnx')).initializers;
    assert.deepEqual(tiny.get('const.qkv_split'), [64, 64, 64]);
    assert.deepEqual(tiny.get('const.head_shape'), [0, 0, 4, 16]);
    assert.ok([...tiny.values()].every((values) => values === null || values.length <= 16));
    assert.ok([...tiny.values()].filter((values) => values === null).length > 10, 'the weights are named, not read');
    // PyTorch's exporter writes Unsqueeze axes as Constant nodes: repeat_kv's is [2] in every layer, keys and values.
    const { nodes } = readOnnxGraph(path.join(fixtureDir('llama-gqa'), 'model.onnx'));
    const producers = new Map(nodes.map((node) => [node.outputs[0], node]));
    const repeatAxes = nodes
      .filter((node) => node.opType === 'Unsqueeze' && /^present\./.test(node.inputs[0]!))
      .map((node) => producers.get(node.inputs[1])?.attributes.value);
    assert.deepEqual(repeatAxes, [[2], [2], [2], [2]]);
  });

  it("in-place on a concatenating export reads each step's past where it lies: the edited graph computes attention over past and new parts (each KV head once for its query heads, where repeat_kv repeated it) and drops the presents' Concat", async () => {
    const { concatNewKv, inPlaceEdit, readGraphHeaders } = await import('../../src/engine/new-kv-outputs.js');
    const { isPresentOutput } = await import('../../src/engine/signature.js');
    const argmax = (row: Float32Array) => row.reduce((best, value, i) => (value > row[best]! ? i : best), 0);
    // Our GPT-2 builder, PyTorch's GPT-2 export, and PyTorch's Llama exports: 4 query heads over 2 KV heads (repeat_kv
    // between each present and attention), the same with keys scaled as an SDPA export scales them (a Mul between
    // Transpose and MatMul), and over one float16 KV head (a Cast too; float16 logits).
    const cases: Array<[string, number]> = [
      [await ensureTinyModel(), 1e-5],
      [fixtureDir('gpt2-nopos'), 1e-5],
      [fixtureDir('llama-gqa'), 1e-5],
      [fixtureDir('llama-sdpa'), 1e-5],
      [fixtureDir('llama-fp16kv'), 1e-3],
    ];
    for (const [dir, tolerance] of cases) {
      const graph = readGraphHeaders(path.join(dir, 'model.onnx'))!;
      const newKv = concatNewKv(graph)!;
      assert.equal(inPlaceEdit(graph, newKv).dropped.length, newKv.size, dir);
      const lm = await CausalLM.load({ dir });
      const naive = await CausalLM.load({ dir, kvCache: 'naive' });
      try {
        assert.equal(lm.kvCache, 'in-place', dir);
        assert.equal(lm.session.outputNames.some(isPresentOutput), false, `${dir}: presents left in the session`);
        // Two rows of different lengths, prefilled, then decoded: logits within float rounding of the Concat graph's.
        const prompts = [Array.from({ length: 19 }, (_, i) => 3 + ((i * 7) % 90)), [5, 9, 11, 40, 2, 17]];
        const states = [await lm.prefill(prompts), await naive.prefill(prompts)] as const;
        for (let step = 0; step < 12; step += 1) {
          const [ours, theirs] = states.map((state) => state.lastLogits);
          for (let row = 0; row < prompts.length; row += 1) {
            const scale = Math.max(...theirs![row]!.map(Math.abs));
            const diff = Math.max(...ours![row]!.map((value, i) => Math.abs(value - theirs![row]![i]!)));
            assert.ok(diff <= tolerance * Math.max(1, scale), `${dir} step ${step} row ${row}: |Δlogit| ${diff}`);
          }
          const next = theirs!.map(argmax);
          assert.deepEqual(ours!.map(argmax), next, `${dir} step ${step}: greedy tokens`);
          await lm.decode(states[0], next);
          await naive.decode(states[1], next);
        }
      } finally {
        await lm.dispose();
        await naive.dispose();
      }
    }
  });

  it("in-place on a compiled Llama export: --optimize basic folds repeat_kv's shapes into initializers, extended fuses the keys' Transpose into FusedMatMul; the bench still builds no present, with no initializer left unread to warn about, and greedy tokens equal naive's", async () => {
    const out = await tempDir('llmops-compiled-');
    try {
      for (const level of ['basic', 'extended']) {
        const compiled = path.join(out, level);
        const compile = await runCli([
          'compile',
          ...['-m', fixtureDir('llama-sdpa'), '--backend', 'ort', '--optimize', level, '--out', compiled],
        ]);
        assert.equal(compile.code, 0, compile.stderr);
        const bench = await runCli(
          ['bench', compiled, '--prompt-tokens', '8', '--gen-tokens', '4', '--iterations', '1', '--warmup', '0'],
          { env: { CI: '1' } },
        );
        assert.equal(bench.code, 0, bench.stderr);
        assert.match(bench.stdout, /^kv cache in-place, 0 presents built per step/m, level);
        assert.doesNotMatch(bench.stderr, /not used by any node/, level);
        const lm = await CausalLM.load({ dir: compiled });
        const naive = await CausalLM.load({ dir: compiled, kvCache: 'naive' });
        try {
          const [ours, theirs] = await Promise.all(
            [lm, naive].map(async (model) => (await model.generate('The model server', { maxTokens: 16 })).tokenIds),
          );
          assert.deepEqual(ours, theirs, level);
        } finally {
          await lm.dispose();
          await naive.dispose();
        }
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('in-place on a read-only model directory, weights inside model.onnx or in model.onnx_data, writing nothing', async (t) => {
    // Read-only for the loading process: a read-only volume. Root ignores the mode bits, so as root it loads as
    // nobody, who must be able to reach this checkout (a clone under root's 0700 home can't be).
    const asRoot = process.getuid?.() === 0;
    const checkout = fileURLToPath(new URL('../../..', import.meta.url));
    if (asRoot && !(await reachableByOthers(checkout))) {
      t.skip(`${checkout} is not readable by other users, so the load can't run as nobody`);
      return;
    }
    const embedded = await tempDir('llmops-readonly-');
    const external = await tempDir('llmops-readonly-ext-');
    await cp(await ensureTinyModel(), embedded, { recursive: true });
    await buildTinyModel({ dir: external, externalData: true });
    const before = await Promise.all([embedded, external].map((dir) => readdir(dir)));
    for (const dir of [embedded, external]) await chmod(dir, 0o555);
    const engine = new URL('../../src/engine/index.js', import.meta.url).href;
    type Loaded = { kvCache: string; kvCacheFallback: string | null; tokens: number[] };
    const load = (dir: string) =>
      new Promise<Loaded>((resolve, reject) => {
        const script = `const { CausalLM } = await import(${JSON.stringify(engine)});
          const lm = await CausalLM.load({ dir: ${JSON.stringify(dir)} });
          const { tokenIds } = await lm.generate('The model server', { maxTokens: 12 });
          console.log(JSON.stringify({ kvCache: lm.kvCache, kvCacheFallback: lm.kvCacheFallback, tokens: tokenIds }));`;
        execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          { ...(asRoot ? { uid: 65534, gid: 65534 } : {}), env: { ...process.env, HOME: os.tmpdir() } },
          (error, stdout, stderr) =>
            error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout) as Loaded),
        );
      });
    try {
      for (const dir of [embedded, external]) {
        const loaded = await load(dir);
        assert.equal(loaded.kvCache, 'in-place', dir);
        assert.equal(loaded.kvCacheFallback, null);
        const naive = await CausalLM.load({ dir, kvCache: 'naive' });
        try {
          assert.deepEqual(loaded.tokens, (await naive.generate('The model server', { maxTokens: 12 })).tokenIds);
        } finally {
          await naive.dispose();
        }
      }
      assert.deepEqual(
        await Promise.all([embedded, external].map((dir) => readdir(dir))),
        before,
        'nothing was written',
      );
    } finally {
      for (const dir of [embedded, external]) {
        await chmod(dir, 0o755);
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('falls back to the naive path, once and for good, when ONNX Runtime refuses the pre-allocated outputs, and says why', async () => {
    const dir = await ensureTinyModel();
    const lm = await CausalLM.load({ dir, kvCache: 'preallocated' });
    const expected = await CausalLM.load({ dir });
    try {
      const run = lm.session.run.bind(lm.session);
      let refused = 0;
      // As a model whose outputs don't have the shapes its metadata declares would fail (a layout with symbolic
      // dimensions in other places passes the metadata check and is only caught by the run).
      (lm.session as { run: unknown }).run = (feeds: Record<string, unknown>, fetches?: unknown) => {
        if (fetches && typeof fetches === 'object' && !Array.isArray(fetches)) {
          refused += 1;
          return Promise.reject(new Error('output shape mismatch\nsecond line'));
        }
        return run(feeds as never);
      };
      const generation = await lm.generate('The model server', { maxTokens: 12 });
      assert.equal(lm.kvCache, 'naive');
      assert.equal(lm.kvCacheFallback, 'pre-allocated outputs refused: output shape mismatch');
      assert.equal(refused, 1);
      assert.deepEqual(generation.tokenIds, (await expected.generate('The model server', { maxTokens: 12 })).tokenIds);
    } finally {
      await lm.dispose();
      await expected.dispose();
    }
  });

  it('a model whose output shapes are not known before the run takes the naive path and says why', async () => {
    const { preallocationBlocker } = await import('../../src/engine/kv-buffers.js');
    const lm = await CausalLM.load({ dir: await ensureTinyModel() });
    try {
      const sig = lm.signature;
      assert.equal(preallocationBlocker(sig, undefined), null);
      const symbolicVocab = {
        ...sig,
        outputs: sig.outputs.map((o) => (o.name === 'logits' ? { ...o, dims: ['batch', 'sequence', 'vocab'] } : o)),
      };
      assert.equal(preallocationBlocker(symbolicVocab, 512), null, 'config.json vocab_size is enough');
      assert.match(preallocationBlocker(symbolicVocab, undefined)!, /vocabulary size/);
      const otherLayout = {
        ...sig,
        outputs: sig.outputs.map((o) =>
          o.name === 'present.0.key' ? { ...o, dims: ['batch', sig.headDim, 'sequence', sig.kvHeads] } : o,
        ),
      };
      assert.match(preallocationBlocker(otherLayout, 512)!, /present\.0\.key is not \[batch, 4, sequence, 16\]/);
    } finally {
      await lm.dispose();
    }
  });
});

describe('engine: bad model directories are usage errors', () => {
  async function copyOfTinyModel(): Promise<string> {
    const source = await ensureTinyModel();
    const copy = await tempDir('llmops-bad-');
    await cp(source, copy, { recursive: true });
    return copy;
  }
  const isUsage = (pattern: RegExp) => (error: unknown) =>
    error instanceof LlmopsError && error.exitCode === 2 && pattern.test(error.message);

  it('missing directory', async () => {
    await assert.rejects(
      CausalLM.load({ dir: '/nonexistent/model' }),
      isUsage(/model directory \/nonexistent\/model does not exist/),
    );
  });

  it('directory without a model', async () => {
    const empty = await tempDir('llmops-empty-');
    await assert.rejects(CausalLM.load({ dir: empty }), isUsage(/has no model\.onnx or onnx\/model\.onnx/));
  });

  it('truncated model.onnx', async () => {
    const copy = await copyOfTinyModel();
    const file = path.join(copy, 'model.onnx');
    await truncate(file, Math.floor((await stat(file)).size / 3));
    await assert.rejects(CausalLM.load({ dir: copy }), isUsage(/cannot load .*model\.onnx/));
  });

  it('corrupt model.onnx', async () => {
    const copy = await copyOfTinyModel();
    await writeFile(path.join(copy, 'model.onnx'), 'this is not protobuf at all');
    await assert.rejects(CausalLM.load({ dir: copy }), isUsage(/cannot load/));
  });

  it('external weights linked from another directory: the hint says to copy them, not that the file is corrupt', async () => {
    const source = fixtureDir('llama-sdpa');
    const copy = await tempDir('llmops-linked-');
    await cp(source, copy, { recursive: true });
    await rm(path.join(copy, 'model.onnx_data'));
    await symlink(path.join(source, 'model.onnx_data'), path.join(copy, 'model.onnx_data'));
    await assert.rejects(
      CausalLM.load({ dir: copy }),
      (error: unknown) =>
        isUsage(/cannot load .*escapes model directory/)(error) &&
        /copy the weight file there/.test((error as LlmopsError).hint ?? ''),
    );
  });

  it('missing tokenizer', async () => {
    const copy = await copyOfTinyModel();
    await rm(path.join(copy, 'tokenizer.json'));
    await assert.rejects(CausalLM.load({ dir: copy }), isUsage(/has no tokenizer\.json/));
  });

  it('corrupt config.json', async () => {
    const copy = await copyOfTinyModel();
    await writeFile(
      path.join(copy, 'config.json'),
      (await readFile(path.join(copy, 'config.json'), 'utf8')).slice(0, 10),
    );
    await assert.rejects(CausalLM.load({ dir: copy }), isUsage(/config\.json is not valid JSON/));
  });

  it('a GPU provider that is not installed says how to install it', async () => {
    const source = await ensureTinyModel();
    await assert.rejects(
      CausalLM.load({ dir: source, provider: 'cuda' }),
      isUsage(/cuda execution provider is not installed/),
    );
  });
});

/** Whether every directory from / down to `dir` lets other users in, and `dir` lets them read. */
async function reachableByOthers(dir: string): Promise<boolean> {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let depth = 0; depth <= parts.length; depth += 1) {
    const { mode } = await stat(path.sep + parts.slice(0, depth).join(path.sep));
    if ((mode & 0o001) === 0 || (depth === parts.length && (mode & 0o004) === 0)) return false;
  }
  return true;
}
