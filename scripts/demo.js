#!/usr/bin/env node
// `npm run demo`: the whole llmops flow on the embedded tiny model — no GPU, no Docker, no network.
// Each step runs the real CLI as a user would and stops the demo on the first failure.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'llmops.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-demo-'));

function step(title, args) {
  process.stdout.write(`\n\u001b[1m▶ ${title}\u001b[0m\n$ llmops ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: work });
  if (result.status !== 0) {
    process.stderr.write(`demo step failed (exit ${result.status}): llmops ${args.join(' ')}\n`);
    process.exit(result.status ?? 1);
  }
}

console.log(`llmops demo — working directory ${work}`);
step('Generate with the embedded tiny GPT-2 (built once into the cache, greedy)', ['generate', '--prompt', 'The model server', '--max-tokens', '24']);
step('The same, sampled and as JSON', ['generate', '--prompt', 'The model server', '--max-tokens', '16', '--temperature', '0.8', '--seed', '42', '--json']);
step('Kubernetes manifests for a GPU service: validated, linted, kustomize layout (no cluster needed)', [
  'deploy', '--image', 'ghcr.io/llmops/llmops-node-server:0.1.0', '--out', 'k8s', '--kustomize',
]);
console.log(`\nDone. Outputs are in ${work}`);
