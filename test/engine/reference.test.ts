// The engine's greedy decoding equals PyTorch's on models the engine did not build
// (test/fixtures/reference, made by scripts/reference/export_reference_models.py), in
// Optimum's layout and in transformers.js's; a batch of four prompts of different lengths
// (left-padded for concatenating exports, right-padded for GroupQueryAttention ones) gives each
// prompt the tokens it gets alone, and so does continuous batching with rows joining and leaving.
// Every test runs on every KV cache path the variant can take (pre-allocated outputs, the naive
// present → past loop, and for GroupQueryAttention exports the in-place buffers) and checks which one ran.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CausalLM, DecoderBatch, type KvCachePath, type Sequence, type StepStats } from '../../src/engine/index.js';
import {
  batchCases,
  GQA_VARIANTS,
  optimumLayout,
  readExpected,
  readJson,
  transformersJsLayout,
  VARIANTS,
  withTempDir,
  type Expected,
  type Variant,
} from '../helpers/reference.js';
import { Tokenizer } from '../../src/engine/tokenizer.js';

interface Layout {
  name: string;
  make: (variant: Variant, into: string) => Promise<string>;
  dtype?: string;
}

const LAYOUTS: Layout[] = [
  { name: 'Optimum layout (model.onnx at the root)', make: (v, into) => optimumLayout(v, into) },
  { name: 'transformers.js layout (onnx/model.onnx)', make: (v, into) => transformersJsLayout(v, into) },
];

function layoutsFor(variant: Variant): Layout[] {
  if (variant === 'gpt2-merged') {
    // Older Optimum exports name the merged decoder decoder_model_merged.onnx.
    return [
      ...LAYOUTS,
      {
        name: 'Optimum layout (decoder_model_merged.onnx)',
        make: (v, into) => optimumLayout(v, into, 'decoder_model_merged.onnx'),
      },
      {
        name: 'transformers.js layout (onnx/decoder_model_merged.onnx)',
        make: (v, into) => transformersJsLayout(v, into, undefined, 'decoder_model_merged.onnx'),
      },
    ];
  }
  if (variant !== 'llama-fp16kv' && variant !== 'llama-fp16kv-gqa') return LAYOUTS;
  // transformers.js names a float16 export onnx/model_fp16.onnx, chosen with dtype fp16.
  return [
    ...LAYOUTS,
    {
      name: 'transformers.js layout, dtype fp16 (onnx/model_fp16.onnx)',
      make: (v, into) => transformersJsLayout(v, into, 'fp16'),
      dtype: 'fp16',
    },
  ];
}

/** Every path the variant can take: in-place needs the step's new keys (new_key_values.*, or a Concat's second input). */
const kvPathsFor = (variant: Variant): KvCachePath[] =>
  (GQA_VARIANTS as readonly Variant[]).includes(variant)
    ? ['in-place', 'naive', 'preallocated']
    : // A merged decoder's presents come out of an If: nothing to expose (the fallback has its own test).
      variant === 'gpt2-merged'
      ? ['preallocated', 'naive']
      : ['preallocated', 'naive', 'in-place'];

async function withModel<T>(
  variant: Variant,
  layout: Layout,
  kv: KvCachePath,
  fn: (lm: CausalLM, expected: Expected) => Promise<T>,
) {
  const expected = await readExpected(variant);
  return withTempDir(async (tmp) => {
    const dir = await layout.make(variant, tmp);
    const lm = await CausalLM.load({
      dir,
      provider: 'cpu',
      kvCache: kv,
      ...(layout.dtype ? { dtype: layout.dtype } : {}),
    });
    try {
      assert.equal(lm.kvCache, kv, `KV path (fallback: ${lm.kvCacheFallback})`);
      const result = await fn(lm, expected);
      assert.equal(lm.kvCache, kv, `KV path after the run (fallback: ${lm.kvCacheFallback})`);
      return result;
    } finally {
      await lm.dispose();
    }
  });
}

const greedy = (expected: Expected) => ({ maxTokens: expected.maxNewTokens, temperature: 0 });

for (const variant of VARIANTS) {
  for (const kv of kvPathsFor(variant))
    describe(`engine vs PyTorch reference: ${variant}, ${kv} KV cache`, () => {
      for (const layout of layoutsFor(variant)) {
        test(`greedy token ids from prompt ids equal PyTorch's, ${layout.name}`, async () => {
          await withModel(variant, layout, kv, async (lm, expected) => {
            for (const c of expected.cases) {
              const gen = await lm.generate(c.promptIds, greedy(expected));
              assert.deepEqual(gen.tokenIds, c.generatedIds, `case ${c.name} (${c.promptIds.length} prompt tokens)`);
              assert.equal(gen.finishReason, 'length', `case ${c.name}`);
            }
          });
        });

        test(`four prompts of different lengths batched give each the tokens it gets alone, ${layout.name}`, async () => {
          await withModel(variant, layout, kv, async (lm, expected) => {
            const cases = batchCases(expected);
            assert.equal(
              new Set(cases.map((c) => c.promptIds.length)).size,
              cases.length,
              'fixture prompts differ in length',
            );
            const alone: number[][] = [];
            for (const c of cases) alone.push((await lm.generate(c.promptIds, greedy(expected))).tokenIds);
            const batched = await lm.generateBatch(
              cases.map((c) => c.promptIds),
              greedy(expected),
            );
            assert.equal(batched.length, cases.length);
            cases.forEach((c, i) => {
              assert.deepEqual(batched[i]!.tokenIds, alone[i], `case ${c.name}: batched vs alone`);
              assert.deepEqual(batched[i]!.tokenIds, c.generatedIds, `case ${c.name}: batched vs PyTorch`);
            });
          });
        });
      }

      test('continuous batching: rows joining, queueing and leaving at different steps keep PyTorch ids', async () => {
        await withModel(variant, LAYOUTS[0]!, kv, async (lm, expected) => {
          // Greedy is prefix-consistent, so a row capped at k tokens must get PyTorch's first k.
          const caps = [16, 3, 11, 16, 7, 13];
          assert.equal(expected.cases.length, caps.length);
          const batch = new DecoderBatch(lm, { maxBatchSize: 3 });
          const add = (i: number) =>
            batch.add({ promptIds: expected.cases[i]!.promptIds, maxTokens: caps[i]!, temperature: 0 });
          const sequences: Sequence[] = [add(0), add(1)];
          await batch.step();
          await batch.step();
          // Joins a running batch with a longer past; the rest wait in the queue for free slots.
          sequences.push(add(3), add(2), add(4), add(5));
          for (let steps = 0; sequences.some((s) => !s.finished); steps++) {
            assert.ok(steps < 200, 'the batch never drained');
            await batch.step();
          }
          const order = [0, 1, 3, 2, 4, 5];
          for (const [k, sequence] of sequences.entries()) {
            const c = expected.cases[order[k]!]!;
            const gen = await sequence.done;
            assert.deepEqual(gen.tokenIds, c.generatedIds.slice(0, caps[order[k]!]), `case ${c.name}`);
          }
        });
      });

      for (const layout of layoutsFor(variant)) {
        test(`cohorts: a long prompt joining short running rows decodes apart, merges when cheap or forced, and keeps PyTorch ids, ${layout.name}`, async () => {
          await withModel(variant, layout, kv, async (lm, expected) => {
            const lengths = expected.cases.map((c) => c.promptIds.length);
            const long = lengths.indexOf(Math.max(...lengths));
            const short = lengths.flatMap((length, i) => (length <= 11 ? [i] : []));
            const middle = lengths.flatMap((length, i) => (length > 11 && i !== long ? [i] : []));
            assert.ok(
              short.length >= 2 &&
                middle.length >= 1 &&
                lengths[long]! >= 4 * Math.max(...short.map((i) => lengths[i]!)),
            );
            const scenario = async (options: { maxCohorts?: number; maxPaddingRatio?: number }) => {
              const batch = new DecoderBatch(lm, { maxBatchSize: 8, prefillChunkTokens: 16, ...options });
              const add = (i: number, maxTokens = expected.maxNewTokens) =>
                batch.add({ promptIds: expected.cases[i]!.promptIds, maxTokens, temperature: 0 });
              // The short rows finish at different steps, so the long one's cohort outlives theirs.
              const sequences = short.map((i, k) => ({ i, cap: 6 + 3 * k, sequence: add(i, 6 + 3 * k) }));
              await batch.step();
              await batch.step();
              const cap = expected.maxNewTokens;
              sequences.push({ i: long, cap, sequence: add(long) });
              const cohorts: number[] = [];
              for (let n = 0; sequences.some((s) => !s.sequence.finished); n++) {
                assert.ok(n < 400, 'the batch never drained');
                if (n === 4) sequences.push(...middle.map((i) => ({ i, cap, sequence: add(i) })));
                await batch.step();
                cohorts.push(batch.cohortCount);
              }
              for (const { i, cap, sequence } of sequences) {
                const c = expected.cases[i]!;
                assert.deepEqual((await sequence.done).tokenIds, c.generatedIds.slice(0, cap), `case ${c.name}`);
              }
              return cohorts;
            };
            const cohorts = await scenario({});
            assert.ok(
              cohorts.includes(2),
              `the long prompt decoded in a cohort of its own (cohorts per step: ${cohorts.join(',')})`,
            );
            assert.ok(
              cohorts.slice(cohorts.indexOf(2)).includes(1),
              `the cohorts became one again before the end (cohorts per step: ${cohorts.join(',')})`,
            );
            assert.equal(cohorts.at(-1), 0);
            const forced = await scenario({ maxCohorts: 1 });
            assert.ok(
              forced.every((count) => count <= 1),
              'one cohort at most: newcomers merged despite padding',
            );
            const padded = await scenario({ maxPaddingRatio: Infinity });
            assert.ok(
              padded.every((count) => count <= 1),
              'no padding bound: everyone in one cohort',
            );
          });
        });
      }

      test('time-sized chunks: a tiny prefillTimeRatio shrinks chunks to the floor, then feeds the prompt one token per decode step; a large one grows them to the cap; same ids', async () => {
        await withModel(variant, LAYOUTS[0]!, kv, async (lm, expected) => {
          const lengths = expected.cases.map((c) => c.promptIds.length);
          const long = lengths.indexOf(Math.max(...lengths));
          const short = lengths.indexOf(Math.min(...lengths));
          assert.ok(lengths[long]! > 12 + 8, 'the longest fixture prompt spans three chunks');
          const run = async (prefillTimeRatio: number) => {
            const steps: StepStats[] = [];
            const batch = new DecoderBatch(lm, {
              prefillChunkTokens: 12,
              prefillTimeRatio,
              onStep: (s) => steps.push(s),
            });
            const add = (i: number) =>
              batch.add({ promptIds: expected.cases[i]!.promptIds, maxTokens: expected.maxNewTokens, temperature: 0 });
            const first = add(short);
            await batch.step();
            const second = add(long);
            while (!first.finished || !second.finished) await batch.step();
            assert.deepEqual((await first.done).tokenIds, expected.cases[short]!.generatedIds);
            assert.deepEqual((await second.done).tokenIds, expected.cases[long]!.generatedIds);
            return {
              chunks: steps.filter((step) => step.decodeRows > 0 && step.prefillTokens > 0).map((s) => s.prefillTokens),
              fed: steps.map((step) => step.feedRows),
            };
          };
          // Both start at 8 (twice the floor, under the cap); then ×½ at most per step, never under 4 …
          const shrunk = await run(1e-6);
          assert.deepEqual(shrunk.chunks.slice(0, 3), [8, 4, 4], `chunks ${shrunk.chunks.join(',')}`);
          // … and after two floor chunks over the budget the prompt is fed within the decode run, one token a step,
          // until the short row finishes and the rest goes back to chunks.
          const feeding = shrunk.fed.indexOf(1);
          assert.ok(feeding > 0, `rows fed per step ${shrunk.fed.join(',')}`);
          assert.ok(shrunk.fed.slice(feeding).includes(0), `rows fed per step ${shrunk.fed.join(',')}`);
          assert.deepEqual(shrunk.chunks.slice(3), [], `no chunk beside a decode once fed: ${shrunk.chunks.join(',')}`);
          // … or grow to the cap and stay there when prefill is cheap next to the decode budget.
          const { chunks: grown, fed } = await run(1e6);
          assert.ok(
            fed.every((rows) => rows === 0),
            `rows fed per step ${fed.join(',')}`,
          );
          assert.equal(grown[0], 8, `chunks ${grown.join(',')}`);
          assert.ok(
            grown.slice(1).every((tokens, k) => tokens === 12 || k === grown.length - 2),
            `chunks ${grown.join(',')}`,
          );
          assert.throws(
            () => new DecoderBatch(lm, { prefillTimeRatio: 0 }),
            /prefillTimeRatio must be a positive number/,
          );
        });
      });

      test('prompts that fit in one chunk join whole and together while rows decode, however small the time ratio', async () => {
        await withModel(variant, LAYOUTS[0]!, kv, async (lm, expected) => {
          const short = expected.cases.flatMap((c, i) => (c.promptIds.length <= 11 ? [i] : []));
          assert.ok(short.length >= 3, 'three short fixture prompts');
          const [running, ...joining] = short.slice(0, 3) as [number, number, number];
          const joiningTokens = joining.reduce((sum, i) => sum + expected.cases[i]!.promptIds.length, 0);
          const steps: StepStats[] = [];
          const batch = new DecoderBatch(lm, {
            prefillChunkTokens: joiningTokens,
            prefillTimeRatio: 1e-6,
            onStep: (s) => steps.push(s),
          });
          const add = (i: number) =>
            batch.add({ promptIds: expected.cases[i]!.promptIds, maxTokens: expected.maxNewTokens, temperature: 0 });
          const sequences = [add(running)];
          await batch.step();
          sequences.push(...joining.map(add));
          await batch.step();
          assert.deepEqual(
            { decodeRows: steps[1]!.decodeRows, prefillTokens: steps[1]!.prefillTokens },
            { decodeRows: 1, prefillTokens: joiningTokens },
            'one step decoded the running row and prefilled both newcomers whole',
          );
          assert.ok(sequences.every((sequence) => sequence.tokenIds.length > 0));
          while (sequences.some((sequence) => !sequence.finished)) await batch.step();
          for (const [k, i] of [running, ...joining].entries())
            assert.deepEqual((await sequences[k]!.done).tokenIds, expected.cases[i]!.generatedIds);
        });
      });

      test("chunked prefill: long prompts prefilled 3 tokens per step between running rows' decode steps keep PyTorch ids", async () => {
        await withModel(variant, LAYOUTS[0]!, kv, async (lm, expected) => {
          const steps: StepStats[] = [];
          const batch = new DecoderBatch(lm, {
            maxBatchSize: 4,
            prefillChunkTokens: 3,
            onStep: (stats) => steps.push(stats),
          });
          const add = (i: number) =>
            batch.add({ promptIds: expected.cases[i]!.promptIds, maxTokens: expected.maxNewTokens, temperature: 0 });
          const sequences = [add(0)];
          await batch.step();
          await batch.step();
          sequences.push(add(2), add(3), add(1), add(4), add(5));
          for (let n = 0; sequences.some((s) => !s.finished); n++) {
            assert.ok(n < 400, 'the batch never drained');
            await batch.step();
          }
          const order = [0, 2, 3, 1, 4, 5];
          for (const [k, sequence] of sequences.entries()) {
            const c = expected.cases[order[k]!]!;
            assert.deepEqual((await sequence.done).tokenIds, c.generatedIds, `case ${c.name}`);
          }
          assert.ok(
            steps.every((step) => step.prefillTokens <= 3),
            'no step prefilled more than the chunk',
          );
          assert.ok(
            steps.some((step) => step.prefillTokens > 0 && step.decodeRows > 0),
            'chunks ran in steps that also decoded',
          );
        });
      });

      test('prefillChunks: every row of a batch prefilled chunk by chunk, then decoded, gets the ids it gets alone', async () => {
        await withModel(variant, LAYOUTS[0]!, kv, async (lm, expected) => {
          const cases = batchCases(expected);
          const length = Math.min(...cases.map((c) => c.promptIds.length));
          const prompts = cases.map((c) => c.promptIds.slice(0, length));
          const half = Math.ceil(length / 2);
          let state = await lm.prefillChunks(
            null,
            prompts.map((ids) => ids.slice(0, half)),
          );
          state = await lm.prefillChunks(
            state,
            prompts.map((ids) => ids.slice(half)),
          );
          const chunked: number[][] = prompts.map(() => []);
          for (let step = 0; step < 6; step += 1) {
            const next = state.lastLogits.map((logits) => logits.indexOf(Math.max(...logits)));
            next.forEach((token, row) => chunked[row]!.push(token));
            await lm.decode(state, next);
          }
          for (const [row, ids] of prompts.entries()) {
            const alone = await lm.generate(ids, { maxTokens: 6, temperature: 0 });
            // EOS never wins in these fixtures (silenced), so the alone run also has six tokens.
            assert.deepEqual(chunked[row], alone.tokenIds, `row ${row}`);
          }
        });
      });

      test('prompt text goes through the model tokenizer (incl. its BOS) to the same greedy ids', async () => {
        await withModel(variant, LAYOUTS[0]!, kv, async (lm, expected) => {
          for (const c of expected.cases) {
            const gen = await lm.generate(c.prompt, greedy(expected));
            assert.equal(gen.promptTokens, c.promptIds.length, `case ${c.name}: prompt token count`);
            assert.deepEqual(gen.tokenIds, c.generatedIds, `case ${c.name}`);
          }
          const cases = batchCases(expected);
          const batched = await lm.generateBatch(
            cases.map((c) => c.prompt),
            greedy(expected),
          );
          cases.forEach((c, i) =>
            assert.deepEqual(batched[i]!.tokenIds, c.generatedIds, `case ${c.name}: batched text`),
          );
        });
      });

      test('generated text, whole and streamed, is the tokenizer decoding of the generated ids', async () => {
        const tokenizer = new Tokenizer(
          await readJson(variant, 'tokenizer.json'),
          await readJson(variant, 'tokenizer_config.json'),
        );
        await withModel(variant, LAYOUTS[0]!, kv, async (lm, expected) => {
          for (const c of expected.cases) {
            const deltas: string[] = [];
            const gen = await lm.generate(c.promptIds, greedy(expected), (delta) => deltas.push(delta));
            const decoded = tokenizer.decode(c.generatedIds, { skip_special_tokens: true });
            assert.equal(gen.text, decoded, `case ${c.name}`);
            assert.equal(deltas.join(''), decoded, `case ${c.name}: streamed deltas`);
          }
        });
      });
    });
}
