#!/usr/bin/env node
// Benchmark: what one long prompt arriving does to the streams a scaffolded node server is already decoding.
// For each --chunks entry CHUNK[:RATIO[:RESERVE]] (PREFILL_CHUNK_TOKENS, 0 = whole prompts; PREFILL_TIME_RATIO, 0 or
// absent = fixed chunks; KV_RESERVE_POSITIONS, absent = the server's default), a fresh server: --streams streams decode; after --settle
// seconds one request with a ~--prompt-tokens prompt arrives. Reported per run: the running streams' inter-token
// gaps (client-side, between SSE chunks) before the arrival (p50) and from the arrival until the long request's
// first token plus one second (p50, p99, max); then the same streams on a fresh server with no long prompt, over the
// same window (the control run): p99-during ÷ that p50 is the must-show's ratio (target ≤ 2), reported beside
// p99-during ÷ p50-before; and the streams' aggregate
// output tokens/s before the arrival and over the whole run, against `llmops bench MODEL --batch STREAMS` run first
// (target ≥ 90%). p99-before ÷ p50-before, and the control run's p99 ÷ p50 over the window, are the noise floor: what
// the machine alone does to the gaps (other load, GC, a VM's host taking its CPUs away). The first lines say what the
// machine itself does to fixed memory-bound work (machine-noise.mjs), and whether the kernel's DAMON samples memory
// accesses: on this project's VM it does every 0.5 s, and each sample stalled a 16-row decode step by ~15 ms.
// The streams ask for `ignore_eos` and ban (`logit_bias` -100) the tokens whose text is not whole on its own (byte
// pieces of a character, special tokens): otherwise the server holds such a token's text back to the next chunk, a
// client-side gap would span several steps, and streams would end early at a sampled EOS — test models have random
// weights. Each SSE chunk is then exactly one token.
// List a configuration more than once (e.g. --chunks 0,128:0.5,0,128:0.5) to alternate runs on a noisy machine: each
// such configuration ends with a line of medians and ranges over its runs.
// --pause-damon (root) pauses the kernel's DAMON sampling for the whole run, the engine's bench included, and restores
// it at exit: report figures both ways, and say which is which.
// Usage: npm run build && node scripts/bench/node-server-prefill.mjs --dir MODEL_DIR [--chunks 0,128,128:0.5] [--streams 16]
//        [--prompt-tokens 1024] [--settle 3] [--stream-tokens 600 (enough to outlast the long prompt's prefill)] [--pause-damon]
// MODEL_DIR needs more positions than the prompt: /usr/bin/python3 scripts/reference/export_sized_model.py /tmp/gpt2-86m
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { damonSampling, measureMachineNoise, pauseDamon } from './machine-noise.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    chunks: { type: 'string', default: '0,128,128:0.5' },
    streams: { type: 'string', default: '16' },
    'prompt-tokens': { type: 'string', default: '1024' },
    settle: { type: 'string', default: '3' },
    'stream-tokens': { type: 'string', default: '600' },
    'pause-damon': { type: 'boolean', default: false },
  },
});
if (!values.dir) throw new Error('--dir MODEL_DIR is required');
const streams = Number(values.streams);
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-prefill-'));
const project = path.join(work, 'svc');
execFileSync(
  process.execPath,
  [path.join(root, 'bin/llmops.js'), 'scaffold', project, '--model', path.resolve(values.dir)],
  { stdio: 'ignore' },
);
symlinkSync(path.join(root, 'node_modules'), path.join(project, 'node_modules'));
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
  cwd: project,
});

const pct = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

// The server runs with the environment its Docker image sets for the process (GLIBC_TUNABLES): what a deployment runs.
const imageEnv = Object.fromEntries(
  [...readFileSync(path.join(project, 'Dockerfile'), 'utf8').matchAll(/^ENV (GLIBC_TUNABLES)=(\S+)$/gm)].map((m) => [
    m[1],
    m[2],
  ]),
);

async function startServer(chunk, ratio, reserve) {
  const server = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: project,
    env: {
      ...process.env,
      ...imageEnv,
      PORT: '0',
      HOST: '127.0.0.1',
      MAX_BATCH_SIZE: String(streams + 1),
      MAX_QUEUE_WAIT_MS: '5',
      PREFILL_CHUNK_TOKENS: String(chunk),
      PREFILL_TIME_RATIO: String(ratio),
      ...(reserve === undefined ? {} : { KV_RESERVE_POSITIONS: String(reserve) }),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise((resolve) => {
    let log = '';
    server.stderr.on('data', (data) => {
      log += data;
      const match = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) resolve(match[1]);
    });
  });
  return { server, url };
}

/** A streamed completion; calls onChunk at each SSE data chunk; resolves with the usage. */
async function stream(url, body, onChunk) {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'svc', ...body, stream: true, stream_options: { include_usage: true } }),
  });
  if (!response.ok) throw new Error(`the server answered ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  let usage = null;
  let rest = '';
  for await (const part of response.body) {
    rest += decoder.decode(part, { stream: true });
    const events = rest.split('\n\n');
    rest = events.pop();
    for (const event of events) {
      const data = event.replace(/^data: /, '');
      if (data === '[DONE]') continue;
      const json = JSON.parse(data);
      if (json.usage) usage = json.usage;
      else onChunk(performance.now());
    }
  }
  return usage;
}

// The tokens whose text is whole on their own: every other one is banned from the running streams (see the top).
const { TextTokenizer } = await import(path.join(root, 'dist/src/engine/index.js'));
const modelDir = path.join(project, 'model');
const tokenizer = await TextTokenizer.load(
  path.join(modelDir, 'tokenizer.json'),
  JSON.parse(readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8')),
);
const vocabSize = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8')).vocab_size;
const partialTokens = {};
for (let id = 0; id < vocabSize; id += 1) {
  const text = tokenizer.decode([id]);
  if (text === '' || text.includes('\uFFFD')) partialTokens[id] = -100;
}

const damonPaused = values['pause-damon'] ? pauseDamon().paused : 0;
// The engine's own batch throughput on the same model and machine, as a separate process (what the must-show compares),
// with the engine settings the server runs with: its threads (ORT_THREADS, else the same default) and no spin-wait
// unless ORT_SPIN_WAIT=1 (the server's default is off; `llmops bench`'s is on).
const bench = JSON.parse(
  execFileSync(
    process.execPath,
    [
      path.join(root, 'bin/llmops.js'),
      'bench',
      modelDir,
      '--batch',
      String(streams),
      '--prompt-tokens',
      '8',
      '--gen-tokens',
      '128',
      '--json',
    ],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: {
        ...process.env,
        LLMOPS_SPIN_WAIT: process.env.ORT_SPIN_WAIT ?? '0',
        ...(process.env.ORT_THREADS ? { LLMOPS_THREADS: process.env.ORT_THREADS } : {}),
      },
    },
  ),
);
const engine = bench.results[0];
const engineTokensPerSecond = streams * engine.decodeTokensPerSecond;

const machine = await measureMachineNoise({ kind: 'memory', seconds: 4 });
const damon = damonSampling();
console.log(
  `this machine, fixed memory-bound work on ${machine.workers} threads: p99/p50 ${machine.spread.toFixed(2)}` +
    (damon.length > 0
      ? `; the kernel's DAMON samples memory accesses every ${damon.map((ms) => `${ms} ms`).join(', ')} (each sample stalls memory-bound steps)`
      : '') +
    (damonPaused > 0 ? `; DAMON paused for this run (--pause-damon; restored at exit)` : ''),
);
const sentence = 'The model server answers requests with streamed tokens while the autoscaler watches the queue. ';
console.log(
  `model ${values.dir} · ${os.cpus().length} cores · load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(
      ' ',
    )} · ${streams} streams + one ~${values['prompt-tokens']}-token prompt · ${Object.keys(partialTokens).length} of ${vocabSize} tokens banned from the streams\n` +
    `llmops bench --batch ${streams} (prompt 8, gen 128, kv ${bench.kvCache}, ${bench.threads} threads${bench.spinWait ? ', spin-wait' : ''}): ${engineTokensPerSecond.toFixed(1)} tok/s (${streams} × ${engine.decodeTokensPerSecond} decode)\n`,
);
/** Streams that decode on a fresh server; with `prompt`, that prompt arrives after --settle seconds. */
async function run(chunk, ratio, reserve, { prompt = null, windowEnd = null } = {}) {
  const { server, url } = await startServer(chunk, ratio, reserve);
  try {
    await stream(url, { prompt: 'warm up', max_tokens: 4, temperature: 0 }, () => {});
    const arrivals = Array.from({ length: streams }, () => []);
    const started = performance.now();
    const clientCpu = process.cpuUsage();
    let generated = 0;
    const running = arrivals.map((times, i) =>
      stream(
        url,
        {
          prompt: `Request ${i}: the model server`,
          max_tokens: Number(values['stream-tokens']),
          temperature: 0.8,
          seed: i,
          ignore_eos: true,
          logit_bias: partialTokens,
        },
        (t) => {
          times.push(t);
          generated += 1;
        },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, Number(values.settle) * 1000));
    const arrival = performance.now();
    let firstToken = 0;
    if (prompt) await stream(url, { prompt, max_tokens: 1, temperature: 0 }, (t) => (firstToken ||= t));
    else await new Promise((resolve) => setTimeout(resolve, windowEnd - 1000 - (arrival - started)));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const end = performance.now();
    const { user, system } = process.cpuUsage(clientCpu);
    server.kill('SIGKILL');
    await Promise.allSettled(running);
    const gaps = (from, to) =>
      arrivals.flatMap((times) => times.slice(1).flatMap((t, k) => (t >= from && t < to ? [t - times[k]] : [])));
    return {
      before: gaps(started + 1000, arrival),
      // From the arrival to the long prompt's first token + 1 s: the same offsets from the start in a control run.
      during: gaps(arrival, end),
      windowEnd: end - started,
      firstTokenMs: firstToken - arrival,
      steady:
        arrivals.flat().filter((t) => t >= started + 1000 && t < arrival).length / ((arrival - started - 1000) / 1000),
      throughput: generated / ((end - started) / 1000),
      // This client's share of one core: on a small machine it competes with the server it measures.
      clientCpu: (user + system) / 1000 / (end - started),
    };
  } finally {
    server.kill('SIGKILL');
  }
}

/** A prompt of about --prompt-tokens tokens, measured with the server's own tokenizer (usage.prompt_tokens). */
async function longPrompt() {
  const { server, url } = await startServer(0, 0, 0);
  try {
    let words = Math.round(Number(values['prompt-tokens']) / 4);
    let prompt = '';
    let promptTokens = 0;
    for (let attempt = 0; attempt < 4; attempt += 1) {
      prompt = sentence
        .repeat(Math.ceil(words / 15))
        .split(' ')
        .slice(0, words)
        .join(' ');
      const usage = await stream(url, { prompt, max_tokens: 1, temperature: 0 }, () => {});
      promptTokens = usage.prompt_tokens;
      words = Math.max(1, Math.round((words * Number(values['prompt-tokens'])) / promptTokens));
    }
    return { prompt, promptTokens };
  } finally {
    server.kill('SIGKILL');
  }
}

const { prompt, promptTokens } = await longPrompt();
/** Per configuration, each run's figures: a configuration listed more than once gets a median line at the end. */
const runs = new Map();
for (const entry of values.chunks.split(',')) {
  const [chunk, ratio = 0, reserve] = entry.split(':').map(Number);
  const arrived = await run(chunk, ratio, reserve, { prompt });
  // "Their ITL p50 without it": the same streams on a fresh server, over the same window, with no long prompt. The
  // gaps grow with the streams' context, so against the p50 before the arrival alone the chunks would also be charged
  // for the streams' own growth.
  const control = await run(chunk, ratio, reserve, { windowEnd: arrived.windowEnd });
  const { before, during } = arrived;
  if (before.length === 0 || during.length === 0 || control.during.length === 0)
    throw new Error('no inter-token gaps in a window: raise --settle or --stream-tokens');
  const p99 = pct(during, 99);
  const ratio99 = p99 / pct(control.during, 50);
  const controlSpread = pct(control.during, 99) / pct(control.during, 50);
  if (!runs.has(entry)) runs.set(entry, []);
  runs.get(entry).push({ ratio: ratio99, controlSpread, steady: arrived.steady });
  const engineShare = (tokensPerSecond) => ((100 * tokensPerSecond) / engineTokensPerSecond).toFixed(0);
  console.log(
    `PREFILL_CHUNK_TOKENS=${chunk} PREFILL_TIME_RATIO=${ratio}${reserve === undefined ? '' : ` KV_RESERVE_POSITIONS=${reserve}`} (prompt ${promptTokens} tokens; load ${os.loadavg()[0].toFixed(1)}): ` +
      `ITL before p50 ${pct(before, 50).toFixed(1)} ms, p99 ${pct(before, 99).toFixed(1)} ms (noise floor p99/p50 ${(pct(before, 99) / pct(before, 50)).toFixed(2)}); ` +
      `during the arrival p50 ${pct(during, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...during).toFixed(1)} ms; ` +
      `same window without it (control run) p50 ${pct(control.during, 50).toFixed(1)} ms, p99 ${pct(control.during, 99).toFixed(1)} ms → ` +
      `p99 during ÷ p50 without it ${ratio99.toFixed(2)} (target ≤ 2; the control's own p99 ÷ p50 ${controlSpread.toFixed(2)}), ÷ p50 before ${(p99 / pct(before, 50)).toFixed(2)}; ` +
      `long prompt TTFT ${arrived.firstTokenMs.toFixed(0)} ms; ${streams} streams ${arrived.steady.toFixed(1)} tok/s before the arrival (${engineShare(arrived.steady)}% of llmops bench), ` +
      `${arrived.throughput.toFixed(1)} tok/s over the run (${engineShare(arrived.throughput)}%); this client used ${(100 * arrived.clientCpu).toFixed(0)}% of a core`,
  );
}
for (const [entry, list] of runs) {
  if (list.length < 2) continue;
  const range = (xs, digits = 2) =>
    `median ${pct(xs, 50).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
  console.log(
    `${entry} over ${list.length} runs: p99 during ÷ p50 without it ${range(list.map((r) => r.ratio))}; ` +
      `the control's own p99 ÷ p50 ${range(list.map((r) => r.controlSpread))}; ` +
      `aggregate before the arrival ${range(
        list.map((r) => (100 * r.steady) / engineTokensPerSecond),
        0,
      )}% of llmops bench`,
  );
}
rmSync(work, { recursive: true, force: true });
