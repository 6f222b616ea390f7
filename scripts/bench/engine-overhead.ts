/**
 * Benchmark: does `llmops bench` — the command users run — decode as fast as ONNX Runtime itself? Each side runs in
 * its own process, as a user would run it: the CLI (`node bin/llmops.js bench DIR --batch 1 … --json`) and a bare
 * onnxruntime-node greedy loop (this script with `--child bare`: a session created straight from onnxruntime-node
 * with the engine's options, feeds built by hand, presents fed back as pasts). Processes alternate (bare, CLI, CLI,
 * bare, …) so that load on a shared machine hits both sides alike; every process runs `--iterations` generations after
 * one warm-up. Reported per prompt length: decode tokens/s best-of-rounds for each side, their ratio, and the median of
 * the per-round paired ratios. Target: CLI ≥ 97% of bare at batch 1. The CLI runs `--kv-cache naive`, the bare loop's
 * own algorithm, so that the ratio is the CLI's overhead; its default KV path (in-place, where the model can take it)
 * is measured against that loop's algorithm by kv-cache.ts.
 *
 * Usage: node dist/scripts/bench/engine-overhead.js [--dir MODEL_DIR | --size 80m|tiny] [--prompts 128,1024]
 *        [--gen 48] [--rounds 3] [--iterations 5] [--threads N]
 * A PyTorch-exported ~86M GPT-2: /usr/bin/python3 scripts/reference/export_sized_model.py /tmp/gpt2-86m
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as Ort from 'onnxruntime-node';

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    size: { type: 'string', default: '80m' },
    dir: { type: 'string' },
    prompt: { type: 'string' },
    prompts: { type: 'string', default: '128,1024' },
    gen: { type: 'string', default: '48' },
    rounds: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '5' },
    threads: { type: 'string' },
  },
});
const genTokens = Number(values.gen);
const iterations = Number(values.iterations);
const threads = values.threads ? Number(values.threads) : undefined;

interface SideResult {
  decodeTokensPerSecond: number;
  ttftMs: number;
}

if (values.child === 'bare') {
  const result = await bareChild(values.dir!, Number(values.prompt));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await parent();
}

/** The bare loop: onnxruntime-node and nothing else on the timed path. Setup (tokenizer, prompt ids) is untimed. */
async function bareChild(dir: string, promptLength: number): Promise<SideResult> {
  // loadOrt is the import itself, with ONNX Runtime's telemetry off as in the CLI.
  const { loadOrt, locateModelFiles, readDecoderSignature, TextTokenizer, argmax, defaultThreadCount } =
    await import('../../src/engine/index.js');
  const ort = await loadOrt();
  const { promptIds } = await import('../../src/bench/engine/llm.js');
  const files = await locateModelFiles(dir);
  // The engine's session options: CPU provider, every graph optimization, the engine's default threads unless told.
  const session = await ort.InferenceSession.create(files.onnxPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads ?? defaultThreadCount(),
  });
  const sig = readDecoderSignature(session, files.config, files.onnxPath);
  const tokenizer = await TextTokenizer.load(files.tokenizerPath, files.tokenizerConfig);
  const prompt = promptIds(promptLength, {
    vocabSize: files.config.vocab_size ?? 356,
    encode: (text) => tokenizer.encode(text, { addSpecialTokens: false }),
  });
  const int64 = (list: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(list, BigInt), dims);
  const lastRow = (outputs: Ort.InferenceSession.OnnxValueMapType) => {
    const logits = outputs[sig.logits] as Ort.Tensor;
    const vocab = logits.dims[logits.dims.length - 1]!;
    const data = logits.data as Float32Array;
    return data.subarray(data.length - vocab);
  };

  async function generation(): Promise<{ ttftMs: number; stepMs: number[] }> {
    const feeds: Record<string, Ort.Tensor> = {};
    feeds[sig.inputIds] = int64(prompt, [1, prompt.length]);
    if (sig.attentionMask)
      feeds[sig.attentionMask] = int64(new Array<number>(prompt.length).fill(1), [1, prompt.length]);
    if (sig.positionIds)
      feeds[sig.positionIds] = int64(
        prompt.map((_, i) => i),
        [1, prompt.length],
      );
    if (sig.useCacheBranch) feeds[sig.useCacheBranch] = new ort.Tensor('bool', new Uint8Array([0]), [1]);
    for (const layer of sig.layers) {
      for (const name of [layer.pastKey, layer.pastValue]) {
        feeds[name] = new ort.Tensor(sig.kvType, sig.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [
          1,
          sig.kvHeads,
          0,
          sig.headDim,
        ]);
      }
    }
    const start = performance.now();
    let outputs = await session.run(feeds);
    let next = argmax(lastRow(outputs));
    const ttftMs = performance.now() - start;
    const stepMs: number[] = [];
    let past = prompt.length;
    let previous = performance.now();
    for (let step = 1; step < genTokens; step += 1) {
      feeds[sig.inputIds] = int64([next], [1, 1]);
      if (sig.attentionMask) feeds[sig.attentionMask] = int64(new Array<number>(past + 1).fill(1), [1, past + 1]);
      if (sig.positionIds) feeds[sig.positionIds] = int64([past], [1, 1]);
      if (sig.useCacheBranch) feeds[sig.useCacheBranch] = new ort.Tensor('bool', new Uint8Array([1]), [1]);
      for (const layer of sig.layers) {
        feeds[layer.pastKey] = outputs[layer.presentKey] as Ort.Tensor;
        feeds[layer.pastValue] = outputs[layer.presentValue] as Ort.Tensor;
      }
      outputs = await session.run(feeds);
      next = argmax(lastRow(outputs));
      past += 1;
      const now = performance.now();
      stepMs.push(now - previous);
      previous = now;
    }
    return { ttftMs, stepMs };
  }

  await generation(); // warm-up, as `llmops bench --warmup 1`
  const steps: number[] = [];
  const ttfts: number[] = [];
  for (let i = 0; i < iterations; i += 1) {
    const { ttftMs, stepMs } = await generation();
    ttfts.push(ttftMs);
    steps.push(...stepMs);
  }
  await session.release();
  // Same definition as the CLI's decodeTokensPerSecond: 1000 / mean decode step.
  return { decodeTokensPerSecond: 1000 / mean(steps), ttftMs: mean(ttfts) };
}

async function parent(): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const cli = path.join(root, 'bin', 'llmops.js');
  const self = fileURLToPath(import.meta.url);
  if (values.size !== 'tiny' && values.size !== '80m')
    throw new Error(`--size must be tiny or 80m, got ${values.size}`);
  const { ensureTinyModel } = await import('../../src/model/tiny.js');
  const { defaultThreadCount } = await import('../../src/engine/index.js');
  const dir = values.dir ?? (await ensureTinyModel({ size: values.size }));
  const prompts = values.prompts.split(',').map(Number);
  const rounds = Number(values.rounds);
  const threadArgs = threads ? ['--threads', String(threads)] : [];

  const runBare = async (prompt: number): Promise<SideResult> =>
    JSON.parse(
      await run([
        self,
        '--child',
        'bare',
        '--dir',
        dir,
        '--prompt',
        String(prompt),
        '--gen',
        String(genTokens),
        '--iterations',
        String(iterations),
        ...threadArgs,
      ]),
    ) as SideResult;
  const runCli = async (prompt: number): Promise<SideResult> => {
    const args = [
      cli,
      'bench',
      dir,
      '--batch',
      '1',
      '--prompt-tokens',
      String(prompt),
      '--gen-tokens',
      String(genTokens),
      '--iterations',
      String(iterations),
      '--warmup',
      '1',
      '--json',
      '--kv-cache',
      'naive',
      ...threadArgs,
    ];
    const row = (
      JSON.parse(await run(args)) as { results: Array<{ decodeTokensPerSecond: number; ttftMs: { mean: number } }> }
    ).results[0]!;
    return { decodeTokensPerSecond: row.decodeTokensPerSecond, ttftMs: row.ttftMs.mean };
  };

  console.log(`model ${dir}`);
  console.log(
    `${os.cpus()[0]?.model.trim()} · ${os.cpus().length} cores · load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} · threads ${threads ?? `${defaultThreadCount()} (the default)`}`,
  );
  console.log(
    `batch 1 · ${genTokens} generated · ${rounds} rounds per prompt length, each a bare process and a CLI process (alternating order) of ${iterations} generations after 1 warm-up\n`,
  );

  let ok = true;
  for (const prompt of prompts) {
    const pairs: Array<{ bare: SideResult; cli: SideResult }> = [];
    for (let round = 0; round < rounds; round += 1) {
      const cliFirst = round % 2 === 1;
      const first = cliFirst ? await runCli(prompt) : await runBare(prompt);
      const second = cliFirst ? await runBare(prompt) : await runCli(prompt);
      const pair = cliFirst ? { cli: first, bare: second } : { bare: first, cli: second };
      pairs.push(pair);
      console.log(
        `prompt ${prompt} round ${round + 1} (${cliFirst ? 'CLI first' : 'bare first'}): decode bare ${pair.bare.decodeTokensPerSecond.toFixed(1)} tok/s, ` +
          `CLI ${pair.cli.decodeTokensPerSecond.toFixed(1)} tok/s (${((pair.cli.decodeTokensPerSecond / pair.bare.decodeTokensPerSecond) * 100).toFixed(1)}%) · ` +
          `TTFT bare ${pair.bare.ttftMs.toFixed(1)} ms, CLI ${pair.cli.ttftMs.toFixed(1)} ms`,
      );
    }
    const bestBare = Math.max(...pairs.map((p) => p.bare.decodeTokensPerSecond));
    const bestCli = Math.max(...pairs.map((p) => p.cli.decodeTokensPerSecond));
    const paired = median(pairs.map((p) => p.cli.decodeTokensPerSecond / p.bare.decodeTokensPerSecond));
    const ratio = bestCli / bestBare;
    ok &&= ratio >= 0.97;
    console.log(
      `prompt ${prompt}: best of ${rounds}: bare ${bestBare.toFixed(1)} tok/s, CLI ${bestCli.toFixed(1)} tok/s = ${(ratio * 100).toFixed(1)}% (target ≥ 97%); ` +
        `paired median ${(paired * 100).toFixed(1)}%; TTFT best bare ${Math.min(...pairs.map((p) => p.bare.ttftMs)).toFixed(1)} ms, CLI ${Math.min(...pairs.map((p) => p.cli.ttftMs)).toFixed(1)} ms\n`,
    );
  }
  console.log(ok ? 'OK: within target' : 'OVER TARGET');
  process.exitCode = ok ? 0 : 1;
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: '1' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${args.slice(0, 3).join(' ')} failed: ${stderr.trim().split('\n').pop()}`));
        else resolve(stdout);
      },
    );
  });
}

function mean(xs: number[]): number {
  return xs.reduce((sum, x) => sum + x, 0) / xs.length;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
