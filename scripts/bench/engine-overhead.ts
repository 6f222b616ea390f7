/**
 * Benchmark: how close `llmops bench` gets to ONNX Runtime itself. In one process, over ONE session, it alternates a
 * bare onnxruntime-node greedy loop (feeds built by hand, presents fed back as pasts) with the engine benchmark
 * (`benchCausalLM`, what `llmops bench` runs) generation by generation and compares decode tokens/s at batch 1 and TTFT with the bare prefill.
 * Targets: decode tokens/s ≥ 95% of bare, TTFT ≤ 1.15 × bare prefill.
 *
 * Usage: node dist/scripts/bench/engine-overhead.js [--size 80m|tiny] [--dir MODEL_DIR] [--prompt 128] [--gen 64]
 *        [--rounds 5] [--iterations 4] [--threads N]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type * as Ort from 'onnxruntime-node';
import { benchCausalLM } from '../../src/bench/engine/run.js';
import { promptIds } from '../../src/bench/engine/llm.js';
import { argmax } from '../../src/engine/sampling.js';
import { CausalLM, loadOrt, type DecoderSignature } from '../../src/engine/index.js';
import { ensureTinyModel } from '../../src/model/tiny.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '80m' },
    dir: { type: 'string' },
    prompt: { type: 'string', default: '128' },
    gen: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '5' },
    iterations: { type: 'string', default: '4' },
    threads: { type: 'string' },
  },
});
const promptLength = Number(values.prompt);
const genTokens = Number(values.gen);
const rounds = Number(values.rounds);
const iterations = Number(values.iterations);
const threads = values.threads ? Number(values.threads) : undefined;

if (values.size !== 'tiny' && values.size !== '80m') throw new Error(`--size must be tiny or 80m, got ${values.size}`);
const dir = values.dir ?? (await ensureTinyModel({ size: values.size }));
const lm = await CausalLM.load({ dir, provider: 'cpu', ...(threads ? { threads } : {}) });
const ort = await loadOrt();
const prompt = promptIds(promptLength, { vocabSize: lm.config.vocab_size ?? 356, encode: (text) => lm.tokenizer.encode(text, { addSpecialTokens: false }) });

/** One greedy generation straight on the session: what any hand-written ONNX Runtime decoder loop does. */
async function bareGeneration(session: Ort.InferenceSession, sig: DecoderSignature): Promise<{ prefillMs: number; stepMs: number[] }> {
  const feeds: Record<string, Ort.Tensor> = {};
  const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
  feeds[sig.inputIds] = int64(prompt, [1, prompt.length]);
  if (sig.attentionMask) feeds[sig.attentionMask] = int64(Array(prompt.length).fill(1), [1, prompt.length]);
  if (sig.positionIds) feeds[sig.positionIds] = int64(prompt.map((_, i) => i), [1, prompt.length]);
  if (sig.useCacheBranch) feeds[sig.useCacheBranch] = new ort.Tensor('bool', new Uint8Array([0]), [1]);
  for (const layer of sig.layers) {
    for (const name of [layer.pastKey, layer.pastValue]) {
      feeds[name] = new ort.Tensor(sig.kvType, sig.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, sig.kvHeads, 0, sig.headDim]);
    }
  }
  const lastRow = (outputs: Ort.InferenceSession.OnnxValueMapType) => {
    const logits = outputs[sig.logits] as Ort.Tensor;
    const vocab = logits.dims[logits.dims.length - 1]!;
    const data = logits.data as Float32Array;
    return data.subarray(data.length - vocab);
  };
  const start = performance.now();
  let outputs = await session.run(feeds);
  let next = argmax(lastRow(outputs));
  const prefillMs = performance.now() - start;
  const stepMs: number[] = [];
  let past = prompt.length;
  for (let step = 1; step < genTokens; step += 1) {
    const t0 = performance.now();
    feeds[sig.inputIds] = int64([next], [1, 1]);
    if (sig.attentionMask) feeds[sig.attentionMask] = int64(Array(past + 1).fill(1), [1, past + 1]);
    if (sig.positionIds) feeds[sig.positionIds] = int64([past], [1, 1]);
    if (sig.useCacheBranch) feeds[sig.useCacheBranch] = new ort.Tensor('bool', new Uint8Array([1]), [1]);
    for (const layer of sig.layers) {
      feeds[layer.pastKey] = outputs[layer.presentKey] as Ort.Tensor;
      feeds[layer.pastValue] = outputs[layer.presentValue] as Ort.Tensor;
    }
    outputs = await session.run(feeds);
    next = argmax(lastRow(outputs));
    past += 1;
    stepMs.push(performance.now() - t0);
  }
  return { prefillMs, stepMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

console.log(`model ${dir}`);
console.log(`${os.cpus()[0]?.model.trim()} · ${os.cpus().length} cores · load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} · threads ${threads ?? 'ORT default'}`);
console.log(`batch 1 · prompt ${promptLength} tokens · ${genTokens} generated · ${rounds} rounds × ${iterations} paired generations (ABBA order)\n`);

// One warm-up generation each so that neither side pays first-run costs (allocations, page faults) in a measured round.
await bareGeneration(lm.session, lm.signature);
await benchCausalLM(lm, { batch: [1], promptTokens: [promptLength], genTokens, iterations: 1, warmup: 0 });

// Generation-level pairs in ABBA order (bare, llmops, llmops, bare, …): on a shared machine the load changes from one
// second to the next, so each llmops generation is compared with the bare one run right beside it.
const pairs: Array<{ decode: number; ttft: number; bareTps: number; llmopsTps: number; barePrefill: number; llmopsTtft: number }> = [];
for (let round = 0; round < rounds; round += 1) {
  const roundPairs: typeof pairs = [];
  for (let i = 0; i < iterations; i += 1) {
    const llmopsFirst = (round * iterations + i) % 2 === 1;
    const runLlmops = async () => (await benchCausalLM(lm, { batch: [1], promptTokens: [promptLength], genTokens, iterations: 1, warmup: 0 })).results[0]!;
    const first = llmopsFirst ? await runLlmops() : await bareGeneration(lm.session, lm.signature);
    const second = llmopsFirst ? await bareGeneration(lm.session, lm.signature) : await runLlmops();
    const bare = (llmopsFirst ? second : first) as Awaited<ReturnType<typeof bareGeneration>>;
    const measured = (llmopsFirst ? first : second) as Awaited<ReturnType<typeof runLlmops>>;
    const bareTps = 1000 / mean(bare.stepMs);
    const pair = { bareTps, llmopsTps: measured.decodeTokensPerSecond, barePrefill: bare.prefillMs, llmopsTtft: measured.ttftMs.mean, decode: 0, ttft: 0 };
    pair.decode = pair.llmopsTps / pair.bareTps;
    pair.ttft = pair.llmopsTtft / pair.barePrefill;
    roundPairs.push(pair);
  }
  pairs.push(...roundPairs);
  console.log(
    `round ${round + 1}: decode bare ${median(roundPairs.map((p) => p.bareTps)).toFixed(1)} tok/s, llmops ${median(roundPairs.map((p) => p.llmopsTps)).toFixed(1)} tok/s ` +
      `(paired median ${(median(roundPairs.map((p) => p.decode)) * 100).toFixed(1)}%) · prefill bare ${median(roundPairs.map((p) => p.barePrefill)).toFixed(2)} ms, ` +
      `llmops TTFT ${median(roundPairs.map((p) => p.llmopsTtft)).toFixed(2)} ms (paired median ${median(roundPairs.map((p) => p.ttft)).toFixed(3)}×)`,
  );
}
await lm.dispose();

const decodeRatio = median(pairs.map((p) => p.decode));
const ttftRatio = median(pairs.map((p) => p.ttft));
console.log(`\nmedian over ${pairs.length} pairs: decode tokens/s llmops/bare = ${(decodeRatio * 100).toFixed(1)}% (target ≥ 95%), TTFT/bare prefill = ${ttftRatio.toFixed(3)}× (target ≤ 1.15×)`);
const ok = decodeRatio >= 0.95 && ttftRatio <= 1.15;
console.log(ok ? 'OK: within targets' : 'OVER TARGET');
process.exitCode = ok ? 0 : 1;
