// The PyTorch-made reference fixtures are sound on their own, without the engine: a bare
// onnxruntime loop written out here reproduces PyTorch's greedy ids, and the tokenizer
// library encodes each prompt to the ids PyTorch was given. So when reference.test.ts
// fails, the engine is at fault, not the fixture.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import { fixtureDir, halfToNumber, readExpected, readJson, VARIANTS, type Expected } from '../helpers/reference.js';
import { loadOrt } from '../../src/engine/session.js';
import { Tokenizer } from '../../src/engine/tokenizer.js';

// Through the engine's loader, as every process of ours does: it keeps ONNX Runtime's usage telemetry off.
const ort = await loadOrt();

interface KvShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

function kvShapeFromConfig(cfg: Record<string, number>): KvShape {
  if (cfg.n_head !== undefined) {
    return { layers: cfg.n_layer!, kvHeads: cfg.n_head, headDim: cfg.n_embd! / cfg.n_head };
  }
  return { layers: cfg.num_hidden_layers!, kvHeads: cfg.num_key_value_heads!, headDim: cfg.head_dim! };
}

function argmaxLast(logits: Ort.Tensor): number {
  const [, seq, vocab] = logits.dims as [number, number, number];
  const data = logits.data as Float32Array | Uint16Array;
  const half = logits.type === 'float16';
  let best = -Infinity;
  let index = -1;
  for (let i = 0; i < vocab; i++) {
    const raw = data[(seq - 1) * vocab + i]!;
    const v = half ? halfToNumber(raw) : raw;
    if (v > best) {
      best = v;
      index = i;
    }
  }
  return index;
}

function zeros(type: 'float32' | 'float16', dims: number[]): Ort.Tensor {
  const size = dims.reduce((a, b) => a * b, 1);
  return type === 'float16'
    ? new ort.Tensor('float16', new Uint16Array(size), dims)
    : new ort.Tensor('float32', new Float32Array(size), dims);
}

/**
 * Batch 1, no padding: the simplest loop that can be right. `neverUseCacheBranch` is a
 * deliberately wrong loop for merged decoders, to show the fixture can tell.
 */
async function bareGreedy(
  session: Ort.InferenceSession,
  expected: Expected,
  kv: KvShape,
  promptIds: number[],
  neverUseCacheBranch = false,
) {
  const out: number[] = [];
  let ids = promptIds;
  let total = 0;
  const past = new Map<string, Ort.Tensor>();
  for (let i = 0; i < kv.layers; i++) {
    past.set(`past_key_values.${i}.key`, zeros(expected.kvDtype, [1, kv.kvHeads, 0, kv.headDim]));
    past.set(`past_key_values.${i}.value`, zeros(expected.kvDtype, [1, kv.kvHeads, 0, kv.headDim]));
  }
  for (let step = 0; step < expected.maxNewTokens; step++) {
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total + ids.length).fill(1n), [1, total + ids.length]),
    };
    if (expected.inputs.includes('position_ids')) {
      feeds.position_ids = new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (_, j) => BigInt(total + j)),
        [1, ids.length],
      );
    }
    if (expected.inputs.includes('use_cache_branch')) {
      feeds.use_cache_branch = new ort.Tensor('bool', [step > 0 && !neverUseCacheBranch], [1]);
    }
    for (const [name, tensor] of past) feeds[name] = tensor;
    const result = await session.run(feeds);
    const next = argmaxLast(result.logits!);
    out.push(next);
    total += ids.length;
    ids = [next];
    for (let i = 0; i < kv.layers; i++) {
      past.set(`past_key_values.${i}.key`, result[`present.${i}.key`]!);
      past.set(`past_key_values.${i}.value`, result[`present.${i}.value`]!);
    }
  }
  return out;
}

for (const variant of VARIANTS) {
  describe(`reference fixture ${variant}`, () => {
    test('declares the I/O signature it was exported with', async () => {
      const expected = await readExpected(variant);
      const session = await ort.InferenceSession.create(join(fixtureDir(variant), 'model.onnx'));
      try {
        assert.deepEqual([...session.inputNames], expected.inputs);
        assert.deepEqual([...session.outputNames], expected.outputs);
        const pastMeta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
        assert.ok(pastMeta?.isTensor);
        assert.equal(pastMeta.type, expected.kvDtype);
      } finally {
        await session.release();
      }
    });

    test('a bare onnxruntime greedy loop reproduces PyTorch token ids (past length 0 prefill)', async () => {
      const expected = await readExpected(variant);
      const kv = kvShapeFromConfig(await readJson<Record<string, number>>(variant, 'config.json'));
      const session = await ort.InferenceSession.create(join(fixtureDir(variant), 'model.onnx'));
      try {
        for (const c of expected.cases) {
          assert.deepEqual(await bareGreedy(session, expected, kv, c.promptIds), c.generatedIds, `case ${c.name}`);
        }
      } finally {
        await session.release();
      }
    });

    if (variant === 'gpt2-merged') {
      test('a loop that never selects use_cache_branch fails or gets different ids (the fixture can tell)', async () => {
        const expected = await readExpected(variant);
        const kv = kvShapeFromConfig(await readJson<Record<string, number>>(variant, 'config.json'));
        const session = await ort.InferenceSession.create(join(fixtureDir(variant), 'model.onnx'), {
          logSeverityLevel: 4,
        });
        try {
          const c = expected.cases[0]!;
          // The no-past branch sees a mask longer than its keys: onnxruntime may reject that outright.
          const wrong = await bareGreedy(session, expected, kv, c.promptIds, true).catch((error: Error) => error);
          if (!(wrong instanceof Error)) assert.notDeepEqual(wrong, c.generatedIds);
        } finally {
          await session.release();
        }
      });
    }

    test('@huggingface/tokenizers encodes each prompt to the ids PyTorch was given', async () => {
      const expected = await readExpected(variant);
      const tokenizer = new Tokenizer(
        await readJson(variant, 'tokenizer.json'),
        await readJson(variant, 'tokenizer_config.json'),
      );
      for (const c of expected.cases) {
        assert.deepEqual(tokenizer.encode(c.prompt).ids, c.promptIds, `case ${c.name}`);
      }
    });
  });
}
