/**
 * Benchmark (issue: engine overhead): decode tokens/s of the llmops engine at batch 1 against a bare
 * onnxruntime-node loop over the SAME session, in the same process, interleaved so both see the same machine.
 * The target is >= 95%. Run: npm run build && node dist/scripts/bench/engine-vs-bare.js [--size 80m] [--tokens 64] [--rounds 5]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type * as Ort from 'onnxruntime-node';
import { CausalLM } from '../../src/engine/index.js';
import { ensureTinyModel, type TinyModelSize } from '../../src/model/tiny.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '80m' },
    tokens: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '5' },
    prompt: { type: 'string', default: '32' },
    threads: { type: 'string' },
  },
});
const tokens = Number(values.tokens);
const rounds = Number(values.rounds);

const dir = await ensureTinyModel({ size: values.size as TinyModelSize });
const lm = await CausalLM.load({ dir, ...(values.threads ? { threads: Number(values.threads) } : {}) });
const ort = (await import('onnxruntime-node')) as typeof Ort;
const promptIds = Array.from({ length: Number(values.prompt) }, (_, i) => 1 + ((i * 7919) % 200));
const sig = lm.signature;

/** The bare loop: what a user would write by hand — feeds, run, argmax, present → past. Returns decode ms and tokens. */
async function bare(steps: number): Promise<{ prefillMs: number; decodeMs: number; ids: number[] }> {
  const t = (data: BigInt64Array, dims: number[]) => new ort.Tensor('int64', data, dims);
  let past: Record<string, Ort.Tensor> = {};
  for (const layer of sig.layers) {
    for (const name of [layer.pastKey, layer.pastValue]) past[name] = new ort.Tensor('float32', new Float32Array(0), [1, sig.kvHeads, 0, sig.headDim]);
  }
  const argmaxLast = (logits: Ort.Tensor) => {
    const data = logits.data as Float32Array;
    const vocab = logits.dims[2]!;
    const start = data.length - vocab;
    let best = 0;
    for (let i = 1; i < vocab; i += 1) if (data[start + i]! > data[start + best]!) best = i;
    return best;
  };
  const n = promptIds.length;
  const started = performance.now();
  let out = await lm.session.run({
    input_ids: t(BigInt64Array.from(promptIds.map(BigInt)), [1, n]),
    attention_mask: t(new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: t(BigInt64Array.from(promptIds.map((_, i) => BigInt(i))), [1, n]),
    ...past,
  });
  let next = argmaxLast(out.logits as Ort.Tensor);
  const prefillMs = performance.now() - started;
  const ids = [next];
  const decodeStart = performance.now();
  for (let step = 1; step < steps; step += 1) {
    past = {};
    for (const layer of sig.layers) {
      past[layer.pastKey] = out[layer.presentKey] as Ort.Tensor;
      past[layer.pastValue] = out[layer.presentValue] as Ort.Tensor;
    }
    const length = n + step;
    out = await lm.session.run({
      input_ids: t(BigInt64Array.of(BigInt(next)), [1, 1]),
      attention_mask: t(new BigInt64Array(length).fill(1n), [1, length]),
      position_ids: t(BigInt64Array.of(BigInt(length - 1)), [1, 1]),
      ...past,
    });
    next = argmaxLast(out.logits as Ort.Tensor);
    ids.push(next);
  }
  return { prefillMs, decodeMs: performance.now() - decodeStart, ids };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const bareRates: number[] = [];
const engineRates: number[] = [];
const bareTtft: number[] = [];
const engineTtft: number[] = [];
await bare(8); // warm-up: first runs allocate arenas
await lm.generate(promptIds, { maxTokens: 8 });
for (let round = 0; round < rounds; round += 1) {
  const generation = await lm.generate(promptIds, { maxTokens: tokens });
  const steps = generation.tokenIds.length;
  const reference = await bare(steps);
  if (reference.ids.slice(0, steps).join() !== generation.tokenIds.join()) throw new Error('engine and bare loop disagree on greedy tokens');
  bareRates.push((steps - 1) / (reference.decodeMs / 1000));
  engineRates.push(generation.tokensPerSecond);
  bareTtft.push(reference.prefillMs);
  engineTtft.push(generation.ttftMs);
}
const ratio = median(engineRates) / median(bareRates);
console.log(`model ${values.size} (${dir}), prompt ${promptIds.length} tokens, ${tokens} new tokens, batch 1, ${rounds} interleaved rounds`);
console.log(`bare onnxruntime-node loop : ${median(bareRates).toFixed(2)} tokens/s decode, prefill ${median(bareTtft).toFixed(1)} ms (medians)`);
console.log(`llmops engine (generate)  : ${median(engineRates).toFixed(2)} tokens/s decode, TTFT ${median(engineTtft).toFixed(1)} ms (medians)`);
console.log(`engine / bare decode       : ${(ratio * 100).toFixed(1)}% ${ratio >= 0.95 ? '(OK, target >= 95%)' : '(BELOW the 95% target)'}`);
await lm.dispose();
