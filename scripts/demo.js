#!/usr/bin/env node
// `npm run demo`: the whole llmops flow on the embedded tiny model — no GPU, no Docker, no network.
// Each step runs the real CLI as a user would and stops the demo on the first failure.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'llmops.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-demo-'));

function step(title, args, { allow = [0], cwd = work, env = {} } = {}) {
  process.stdout.write(
    `\n\u001b[1m▶ ${title}\u001b[0m\n$ ${cwd === work ? '' : `(cd ${path.relative(work, cwd)}) `}llmops ${args.join(' ')}\n`,
  );
  const result = spawnSync(process.execPath, [cli, ...args], {
    stdio: 'inherit',
    cwd,
    env: { ...process.env, ...env },
  });
  if (result.status !== 0 && allow.includes(result.status))
    process.stdout.write(`(exit ${result.status}: in CI this fails the job)\n`);
  else if (result.status !== 0) {
    process.stderr.write(`demo step failed (exit ${result.status}): llmops ${args.join(' ')}\n`);
    process.exit(result.status ?? 1);
  }
}

console.log(`llmops demo — working directory ${work}`);
step('Generate with the embedded tiny GPT-2 (built once into the cache, greedy)', [
  'generate',
  '--prompt',
  'The model server',
  '--max-tokens',
  '24',
]);
step('The same, sampled and as JSON', [
  'generate',
  '--prompt',
  'The model server',
  '--max-tokens',
  '16',
  '--temperature',
  '0.8',
  '--seed',
  '42',
  '--json',
]);
step('Compile it with ONNX Runtime (in-process, validated against the source) into an artifact', [
  'compile',
  '--backend',
  'ort',
  '--out',
  'artifacts/tiny-ort',
]);
step("What a GPU build would run (dry run: TensorRT in NVIDIA's container)", [
  'compile',
  '--backend',
  'tensorrt',
  '--dry-run',
]);
step('Generate with the compiled artifact', [
  'generate',
  'artifacts/tiny-ort',
  '--prompt',
  'The model server',
  '--max-tokens',
  '24',
]);
// The gate below reruns exactly this benchmark, so both take their configuration from here.
const ENGINE_BENCH = [
  'bench',
  'artifacts/tiny-ort',
  '--batch',
  '1,4',
  '--prompt-tokens',
  '32',
  '--gen-tokens',
  '16',
  '--iterations',
  '3',
];
step('Benchmark the engine: TTFT, TPOT, tokens/s, memory and $ per million tokens per batch size', [
  ...ENGINE_BENCH,
  '--gpu-price',
  '2.49',
  '--out',
  'bench.json',
]);
// Sub-millisecond steps on a shared machine may really differ by 25% between two runs: the gate may rightly say so.
step(
  'Gate a second run against the first (exit 3 on a regression beyond noise)',
  [...ENGINE_BENCH, '--baseline', 'bench.json', '--max-regression', '25%'],
  { allow: [0, 3] },
);
step('Scaffold a serving project: a Node/TypeScript OpenAI-compatible server around the compiled model', [
  'scaffold',
  'tiny-server',
  '--model',
  'artifacts/tiny-ort',
]);
await serveAndQuery(path.join(work, 'tiny-server'));
step(
  'Kubernetes manifests for the project (from its llmops.yaml, sized by the load test): validated, linted, kustomize layout, no cluster needed',
  ['deploy', '--out', 'k8s', '--kustomize', '--from-bench', '../endpoint.json', '--peak-qps', '50'],
  { cwd: path.join(work, 'tiny-server') },
);
console.log(`\nDone. Outputs are in ${work}`);

/**
 * Starts the generated server and talks to it as a client would. The project links llmops's own node_modules
 * (the same packages) instead of running npm install, so the demo stays offline.
 */
async function serveAndQuery(project) {
  process.stdout.write(
    `\n\u001b[1m▶ Build and start the generated server, then stream a chat completion from it\u001b[0m\n`,
  );
  symlinkSync(path.join(root, 'node_modules'), path.join(project, 'node_modules'));
  const tsc = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    { cwd: project, stdio: 'inherit' },
  );
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  const server = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: project,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', API_KEYS: 'demo-key' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let log = '';
    server.stderr.on('data', (chunk) => {
      log += chunk;
      const match = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) resolve(match[1]);
    });
    server.on('exit', (code) => reject(new Error(`server exited (${code}): ${log}`)));
  });
  console.log(`server up on ${url}; POST /v1/chat/completions (stream: true):`);
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo-key', 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'tiny-server',
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 24,
      temperature: 0,
      stream: true,
    }),
  });
  for (const event of (await response.text()).split('\n\n')) {
    if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
    process.stdout.write(JSON.parse(event.slice(6)).choices[0]?.delta?.content ?? '');
  }
  step(
    'Load-test the server: streaming TTFT, inter-token latency, req/s and tokens/s per concurrency, knee and capacity at the SLO',
    [
      'bench',
      url,
      '--concurrency',
      '1,4',
      '--duration',
      '3s',
      '--warmup',
      '1s',
      '--tokenizer',
      'artifacts/tiny-ort',
      '--prompt-tokens',
      '48,8',
      '--max-tokens',
      '16',
      '--slo',
      'ttft=5s',
      '--out',
      'endpoint.json',
      '--report',
      'endpoint.html',
    ],
    { env: { LLMOPS_API_KEY: 'demo-key' } },
  );
  const metrics = await (await fetch(`${url}/metrics`)).text();
  console.log(
    `\n/metrics: ${metrics
      .split('\n')
      .filter((line) => /^llmops_(requests_total|queue_depth)/.test(line))
      .join(' | ')}`,
  );
  server.kill('SIGTERM');
  await new Promise((resolve) => server.on('exit', resolve));
  console.log('server drained and stopped (SIGTERM)');
}
