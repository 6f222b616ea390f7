// A second, independent reference: transformers.js (@huggingface/transformers, a dev
// dependency) run fully offline on the same directories in its own layout. It agrees with
// PyTorch on the reference fixtures, and with the engine on the embedded tiny model.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { CausalLM } from '../../src/engine/index.js';
import { buildTinyModel, ensureTinyModel } from '../../src/model/index.js';
import {
  CONCAT_VARIANTS,
  fixtureDir,
  readExpected,
  transformersJsLayout,
  withTempDir,
  type Variant,
} from '../helpers/reference.js';

type TransformersJs = typeof import('@huggingface/transformers');
let tjs: TransformersJs;

before(async () => {
  tjs = await import('@huggingface/transformers');
  // Offline: local files only, no cache writes, and any fetch is a test failure.
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.useFSCache = false;
  tjs.env.fetch = async (input: string | URL) => {
    throw new Error(`transformers.js tried to fetch ${String(input)}`);
  };
});

/** Loads `dir` (transformers.js layout) by pointing localModelPath at its parent. */
async function loadModel(dir: string, dtype: 'fp32' | 'fp16', externalData: boolean) {
  tjs.env.localModelPath = dirname(dir);
  return tjs.AutoModelForCausalLM.from_pretrained(basename(dir), {
    dtype,
    device: 'cpu',
    local_files_only: true,
    ...(externalData ? { use_external_data_format: true } : {}),
  });
}

async function greedyIds(
  model: Awaited<ReturnType<typeof loadModel>>,
  promptIds: number[],
  maxNewTokens: number,
): Promise<number[]> {
  const shape = [1, promptIds.length];
  const output = (await model.generate({
    input_ids: new tjs.Tensor('int64', BigInt64Array.from(promptIds, BigInt), shape),
    attention_mask: new tjs.Tensor('int64', new BigInt64Array(promptIds.length).fill(1n), shape),
    max_new_tokens: maxNewTokens,
    do_sample: false,
  })) as InstanceType<TransformersJs['Tensor']>;
  return Array.from(output.data as BigInt64Array, Number).slice(promptIds.length);
}

describe('transformers.js vs PyTorch on the reference fixtures', () => {
  // transformers.js left-pads batches and knows nothing of GroupQueryAttention's right padding: concat exports only.
  for (const variant of CONCAT_VARIANTS as readonly Variant[]) {
    test(`greedy ids equal PyTorch's: ${variant}`, async () => {
      const expected = await readExpected(variant);
      const dtype = variant === 'llama-fp16kv' ? 'fp16' : 'fp32';
      await withTempDir(async (tmp) => {
        const dir = await transformersJsLayout(variant, tmp, dtype === 'fp16' ? 'fp16' : undefined);
        const model = await loadModel(dir, dtype, existsSync(join(fixtureDir(variant), 'model.onnx_data')));
        try {
          for (const c of expected.cases) {
            assert.deepEqual(
              await greedyIds(model, c.promptIds, expected.maxNewTokens),
              c.generatedIds,
              `case ${c.name}`,
            );
          }
        } finally {
          await model.dispose();
        }
      });
    });
  }
});

describe('transformers.js vs the engine on the embedded tiny model', () => {
  const PROMPTS = [
    'Hello',
    'The quick brown fox jumps over the lazy dog.',
    'Once upon a time, in a land far away,',
    'llmops compiles, benchmarks and deploys language models on Kubernetes clusters that scale with traffic',
  ];
  const MAX_NEW_TOKENS = 24;

  test('greedy ids are identical, alone and batched, the engine run in the Optimum and the transformers.js layout', async () => {
    await withTempDir(async (tmp) => {
      // The default model exactly as commands get it, and the same build in transformers.js's layout.
      const optimumDir = await ensureTinyModel({ cacheDir: join(tmp, 'cache') });
      const tjsDir = join(tmp, 'models', 'tiny-tjs');
      await buildTinyModel({ dir: tjsDir, layout: 'transformers.js' });
      const engines = [
        ['Optimum', await CausalLM.load({ dir: optimumDir, provider: 'cpu' })],
        ['transformers.js', await CausalLM.load({ dir: tjsDir, provider: 'cpu' })],
      ] as const;
      const model = await loadModel(tjsDir, 'fp32', false);
      try {
        const distinct = new Set<number>();
        const allExpected: number[][] = [];
        const allPromptIds: number[][] = [];
        for (const prompt of PROMPTS) {
          const promptIds = engines[0][1].tokenizer.encode(prompt);
          const reference = await greedyIds(model, promptIds, MAX_NEW_TOKENS);
          // transformers.js keeps the EOS it stops on; the engine reports ids without it.
          const eos = reference.findIndex((id) => engines[0][1].eosTokenIds.has(id));
          const expectedIds = eos === -1 ? reference : reference.slice(0, eos);
          expectedIds.forEach((id) => distinct.add(id));
          allExpected.push(expectedIds);
          allPromptIds.push(promptIds);
          for (const [layout, lm] of engines) {
            const gen = await lm.generate(promptIds, { maxTokens: MAX_NEW_TOKENS, temperature: 0 });
            assert.deepEqual(gen.tokenIds, expectedIds, `${layout} layout, prompt ${JSON.stringify(prompt)}`);
          }
        }
        // The four prompts differ in length: left-padded together, each keeps transformers.js's ids.
        for (const [layout, lm] of engines) {
          const batched = await lm.generateBatch(allPromptIds, { maxTokens: MAX_NEW_TOKENS, temperature: 0 });
          batched.forEach((gen, i) =>
            assert.deepEqual(gen.tokenIds, allExpected[i], `${layout} layout, batched prompt ${i}`),
          );
        }
        // Guard against a vacuous pass: the comparison must cover more than one repeated token.
        assert.ok(distinct.size > 3, `only ${distinct.size} distinct generated ids`);
      } finally {
        await model.dispose();
        for (const [, lm] of engines) await lm.dispose();
      }
    });
  });
});
