/**
 * Benchmark: a KV cache path (`--path in-place`, the default, or `preallocated`) against the naive present → past loop on
 * the same model, as users run them — `llmops bench DIR --kv-cache PATH --json`, each in its own process, alternating
 * (naive, PATH, PATH, naive, …) so that load on a shared machine hits both alike. Per prompt length: decode tokens/s
 * and peak RSS, best-of-rounds for each path, their ratio, and the median of the per-round paired ratios.
 * Targets: decode ≥ 1.3× naive at prompt 1024 + 256 generated, no slower at prompt 16, peak RSS no higher.
 *
 * Usage: node dist/scripts/bench/kv-cache.js --dir MODEL_DIR [--path in-place|preallocated] [--cases 1024:256,16:256]
 *        [--rounds 3] [--iterations 2] [--threads N]
 * A PyTorch-exported ~86M GPT-2 with 2048 positions, its attention as GroupQueryAttention:
 *   /usr/bin/python3 scripts/reference/export_sized_model.py /tmp/gpt2-86m-gqa --attention gqa
 * and in Optimum's concatenating layout (both paths take it): the same without --attention.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    path: { type: 'string', default: 'in-place' },
    cases: { type: 'string', default: '1024:256,16:256' },
    rounds: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '2' },
    threads: { type: 'string' },
  },
});
if (!values.dir)
  throw new Error('--dir MODEL_DIR is required (a decoder with at least 1280 positions for the default cases)');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'bin', 'llmops.js');
const rounds = Number(values.rounds);
const tried = values.path;
if (tried !== 'in-place' && tried !== 'preallocated')
  throw new Error(`--path is in-place or preallocated, got ${tried}`);

interface Row {
  decodeTokensPerSecond: number;
  peakRssMb: number;
  kvCache: string;
  presentsPerStep: number;
}

async function bench(kv: string, prompt: number, gen: number): Promise<Row> {
  const args = [
    cli,
    'bench',
    values.dir!,
    '--batch',
    '1',
    '--prompt-tokens',
    String(prompt),
    '--gen-tokens',
    String(gen),
    '--iterations',
    values.iterations,
    '--warmup',
    '1',
    '--kv-cache',
    kv,
    '--json',
  ];
  if (values.threads) args.push('--threads', values.threads);
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      args,
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: '1' } },
      (error, out, err) => (error ? reject(new Error(err.trim().split('\n').pop())) : resolve(out)),
    ),
  );
  const result = JSON.parse(stdout) as {
    kvCache: string;
    presentsPerStep: number;
    results: Array<{ decodeTokensPerSecond: number; peakRssMb: number }>;
  };
  if (result.kvCache !== kv) throw new Error(`asked for ${kv}, ran ${result.kvCache}`);
  return { ...result.results[0]!, kvCache: result.kvCache, presentsPerStep: result.presentsPerStep };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

console.log(`model ${values.dir}`);
console.log(
  `${os.cpus()[0]?.model.trim()} · ${os.cpus().length} cores · load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} · threads ${values.threads ?? 'ORT default'}`,
);
console.log(
  `batch 1 · ${rounds} rounds per case, each one naive and one ${tried} CLI process (alternating order) of ${values.iterations} generations after 1 warm-up\n`,
);
for (const spec of values.cases.split(',')) {
  const [prompt, gen] = spec.split(':').map(Number) as [number, number];
  const pairs: Array<{ naive: Row; tried: Row }> = [];
  for (let round = 0; round < rounds; round += 1) {
    const triedFirst = round % 2 === 1;
    const first = await bench(triedFirst ? tried : 'naive', prompt, gen);
    const second = await bench(triedFirst ? 'naive' : tried, prompt, gen);
    const pair = triedFirst ? { tried: first, naive: second } : { naive: first, tried: second };
    pairs.push(pair);
    console.log(
      `prompt ${prompt} + ${gen} round ${round + 1}: naive ${pair.naive.decodeTokensPerSecond.toFixed(1)} tok/s (${pair.naive.peakRssMb} MB), ` +
        `${tried} ${pair.tried.decodeTokensPerSecond.toFixed(1)} tok/s (${pair.tried.peakRssMb} MB, ${pair.tried.presentsPerStep} presents built per step) = ${(pair.tried.decodeTokensPerSecond / pair.naive.decodeTokensPerSecond).toFixed(2)}×`,
    );
  }
  const bestNaive = Math.max(...pairs.map((p) => p.naive.decodeTokensPerSecond));
  const bestTried = Math.max(...pairs.map((p) => p.tried.decodeTokensPerSecond));
  const rssNaive = Math.min(...pairs.map((p) => p.naive.peakRssMb));
  const rssTried = Math.min(...pairs.map((p) => p.tried.peakRssMb));
  console.log(
    `prompt ${prompt} + ${gen}: best of ${rounds}: naive ${bestNaive.toFixed(1)} tok/s, ${tried} ${bestTried.toFixed(1)} tok/s = ${(bestTried / bestNaive).toFixed(2)}×; ` +
      `paired median ${median(pairs.map((p) => p.tried.decodeTokensPerSecond / p.naive.decodeTokensPerSecond)).toFixed(2)}×; ` +
      `lowest peak RSS naive ${rssNaive} MB, ${tried} ${rssTried} MB\n`,
  );
}
