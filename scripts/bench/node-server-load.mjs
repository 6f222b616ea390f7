#!/usr/bin/env node
// Benchmark of the scaffolded node server on the ~80M-parameter model (memory-bound on a CPU):
//  1. aggregate output tokens/s with 16 concurrent streams vs one stream (continuous batching should give >= 3x);
//  2. a soak: 200 concurrent streams for --soak seconds, counting errors and sampling the server's RSS.
// Streams sample at --temperature (OpenAI's default is 1): on a real vocabulary (32,000+ tokens) that is per-token
// work a greedy benchmark never does. --dir serves a model directory instead of the embedded --size one, e.g. one
// with a real vocabulary: /usr/bin/python3 scripts/reference/export_sized_model.py /tmp/llama-v32k --arch llama --vocab 32000
// Usage: npm run build && node scripts/bench/node-server-load.mjs [--size 80m | --dir MODEL_DIR] [--tokens 64]
//        [--temperature 0.8] [--soak 60]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '80m' },
    dir: { type: 'string' },
    temperature: { type: 'string', default: '0.8' },
    tokens: { type: 'string', default: '64' },
    soak: { type: 'string', default: '60' },
    streams: { type: 'string', default: '200' },
  },
});
const maxTokens = Number(values.tokens);
const { ensureTinyModel } = await import(path.join(root, 'dist/src/model/tiny.js'));
const model = values.dir ? path.resolve(values.dir) : await ensureTinyModel({ size: values.size });
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-serverload-'));
const project = path.join(work, 'svc');
execFileSync(process.execPath, [path.join(root, 'bin/llmops.js'), 'scaffold', project, '--model', model], {
  stdio: 'ignore',
});
symlinkSync(path.join(root, 'node_modules'), path.join(project, 'node_modules'));
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
  cwd: project,
});

const server = spawn(process.execPath, ['dist/src/main.js'], {
  cwd: project,
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1', MAX_BATCH_SIZE: '16', MAX_QUEUE_WAIT_MS: '5' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const url = await new Promise((resolve) => {
  let log = '';
  server.stderr.on('data', (chunk) => {
    log += chunk;
    const match = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
    if (match) resolve(match[1]);
  });
});

/** One streamed completion; returns output tokens (from usage) or throws. */
async function stream(i) {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'svc',
      prompt: `Request ${i}: the model server`,
      max_tokens: maxTokens,
      temperature: Number(values.temperature),
      seed: i,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  const text = await response.text();
  if (!text.endsWith('data: [DONE]\n\n')) throw new Error('stream ended without [DONE]');
  const usage = text
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)))
    .find((e) => e.usage)?.usage;
  return usage.completion_tokens;
}

/** Closed loop: `concurrency` clients, each sending requests back to back until `total` are done. */
async function closedLoop(concurrency, total) {
  let next = 0;
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        // Not `tokens += await …`: that reads `tokens` before awaiting and loses the other clients' counts.
        const generated = await stream(next++);
        tokens += generated;
      }
    }),
  );
  return tokens / ((performance.now() - started) / 1000);
}

await closedLoop(2, 4); // warm-up
const one = await closedLoop(1, 8);
const sixteen = await closedLoop(16, 64);
const vocabSize = JSON.parse(readFileSync(path.join(model, 'config.json'), 'utf8')).vocab_size;
console.log(
  `model ${values.dir ?? values.size} (${model}, vocabulary ${vocabSize}), ${maxTokens} tokens per request at temperature ${values.temperature}, MAX_BATCH_SIZE=16`,
);
console.log(`1 stream   : ${one.toFixed(1)} output tokens/s`);
console.log(
  `16 streams : ${sixteen.toFixed(1)} output tokens/s aggregate = ${(sixteen / one).toFixed(2)}x one stream ${sixteen / one >= 3 ? '(OK, target >= 3x)' : '(BELOW the 3x target)'}`,
);

const soakSeconds = Number(values.soak);
if (soakSeconds > 0) {
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;
  const samples = [];
  const sampler = setInterval(() => samples.push(rss()), 5000);
  const deadline = performance.now() + soakSeconds * 1000;
  let completed = 0;
  let errors = 0;
  let i = 0;
  await Promise.all(
    Array.from({ length: Number(values.streams) }, async () => {
      while (performance.now() < deadline) {
        try {
          await stream(i++);
          completed += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  clearInterval(sampler);
  const firstHalf = samples.slice(0, Math.ceil(samples.length / 2));
  const secondHalf = samples.slice(Math.ceil(samples.length / 2));
  const growth = Math.max(...secondHalf) - Math.max(...firstHalf);
  console.log(
    `soak: ${values.streams} concurrent streams for ${soakSeconds} s → ${completed} completed, ${errors} errors`,
  );
  console.log(`server RSS MB every 5 s: ${samples.map((s) => s.toFixed(0)).join(' ')}`);
  console.log(
    `RSS growth, max of second half − max of first half: ${growth.toFixed(1)} MB ${errors === 0 && growth < 0.05 * Math.max(...samples) ? '(OK: zero errors, RSS flat)' : '(CHECK)'}`,
  );
}
server.kill('SIGTERM');
await new Promise((resolve) => server.on('exit', resolve));
rmSync(work, { recursive: true, force: true });
