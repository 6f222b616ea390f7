import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { kubectlApplyPlan, parseApplyOutput } from '../../src/proc/kubectl.js';
import { exampleConfig, runCli, tempDir, writeConfig } from './helpers.js';

/**
 * A fake kubectl: records each argv (one JSON line per call) and answers like kubectl. FAKE_KUBECTL_FAIL=apply makes
 * a non-dry-run apply fail; FAKE_KUBECTL_NO_CONTEXT=1 makes the context lookups fail.
 */
async function fakeKubectl(dir: string): Promise<{ bin: string; log: string }> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const log = path.join(dir, 'kubectl.log');
  const script = `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
const rest = args[0] === '--context' ? args.slice(2) : args;
if (rest[0] === 'config') {
  if (process.env.FAKE_KUBECTL_NO_CONTEXT) { process.stderr.write('error: current-context is not set\\n'); process.exit(1); }
  process.stdout.write(rest[1] === 'current-context' ? 'kind-test\\n' : 'context/' + rest[2] + '\\n');
  process.exit(0);
}
if (rest[0] === 'apply') {
  const dry = rest.find((a) => a.startsWith('--dry-run='));
  if (!dry && process.env.FAKE_KUBECTL_FAIL === 'apply') {
    process.stderr.write('Error from server (Forbidden): deployments.apps "tiny-gpt" is forbidden: exceeded quota: gpu-quota\\n');
    process.exit(1);
  }
  const files = rest.flatMap((a, i) => (rest[i - 1] === '-f' ? [a] : []));
  for (const f of files) {
    const kind = require('node:path').basename(f).split('-')[0];
    process.stdout.write(kind + '/tiny-gpt ' + (dry ? 'created (' + dry.slice(10) + ' dry run)' : 'configured') + '\\n');
  }
  process.exit(0);
}
process.exit(2);
`;
  await writeFile(path.join(bin, 'kubectl'), script);
  await chmod(path.join(bin, 'kubectl'), 0o755);
  return { bin, log };
}

async function calls(log: string): Promise<string[][]> {
  return (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as string[]);
}

test('the apply plan is an argv array with llmops as field manager', () => {
  assert.deepEqual(
    kubectlApplyPlan({ source: { files: ['/k/a.yaml', '/k/b.yaml'] }, context: 'prod', dryRun: 'server' }).argv,
    [
      '--context',
      'prod',
      'apply',
      '-f',
      '/k/a.yaml',
      '-f',
      '/k/b.yaml',
      '--field-manager',
      'llmops',
      '--dry-run=server',
    ],
  );
  assert.deepEqual(kubectlApplyPlan({ source: { kustomize: '/k/base' } }).argv, [
    'apply',
    '-k',
    '/k/base',
    '--field-manager',
    'llmops',
  ]);
  assert.deepEqual(parseApplyOutput('deployment.apps/x created (server dry run)\nservice/x unchanged\nnoise\n'), [
    { object: 'deployment.apps/x', action: 'created' },
    { object: 'service/x', action: 'unchanged' },
  ]);
});

test('--apply: server-side dry run first, then apply, with the recorded argv; changes are reported', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'volume', engine: 'keda' }));
  const { bin, log } = await fakeKubectl(dir);
  const out = path.join(dir, 'k8s');
  const run = runCli(['deploy', '--out', out, '--apply', '--context', 'prod'], {
    cwd: dir,
    env: { PATH: `${bin}:${process.env.PATH}` },
  });
  assert.equal(run.status, 0, run.stderr);
  // A new model volume comes with the Job that fills it.
  const files = [
    'serviceaccount',
    'persistentvolumeclaim',
    'service',
    'deployment',
    'poddisruptionbudget',
    'networkpolicy',
    'scaledobject',
    'servicemonitor',
    'job',
  ].flatMap((kind) => [
    '-f',
    path.join(out, `${kind}-tiny-gpt${{ persistentvolumeclaim: '-model', job: '-model-populate' }[kind] ?? ''}.yaml`),
  ]);
  assert.deepEqual(await calls(log), [
    ['config', 'get-contexts', 'prod', '-o', 'name'],
    ['--context', 'prod', 'apply', ...files, '--field-manager', 'llmops', '--dry-run=server'],
    ['--context', 'prod', 'apply', ...files, '--field-manager', 'llmops'],
  ]);
  assert.match(run.stdout, /deployment\/tiny-gpt configured/);
});

test('--apply --dry-run=client runs only that dry run; --kustomize applies the base with -k', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'baked' }));
  const { bin, log } = await fakeKubectl(dir);
  const env = { PATH: `${bin}:${process.env.PATH}` };
  const run = runCli(['--json', 'deploy', '--apply', '--dry-run', 'client'], { cwd: dir, env });
  assert.equal(run.status, 0, run.stderr);
  const recorded = await calls(log);
  assert.equal(recorded.length, 2);
  assert.deepEqual(recorded[0], ['config', 'current-context']);
  assert.equal(recorded[1]!.at(-1), '--dry-run=client');
  const doc = JSON.parse(run.stdout) as { apply: { context: string; dryRun: string; changes: unknown[] } };
  assert.equal(doc.apply.context, 'kind-test');
  assert.equal(doc.apply.dryRun, 'client');
  assert.ok(doc.apply.changes.length > 0);

  const out = path.join(dir, 'k8s');
  const kustomize = runCli(['deploy', '--out', out, '--kustomize', '--apply'], { cwd: dir, env });
  assert.equal(kustomize.status, 0, kustomize.stderr);
  assert.deepEqual((await calls(log)).slice(-1)[0], [
    'apply',
    '-k',
    path.join(out, 'base'),
    '--field-manager',
    'llmops',
  ]);
});

test('a failing kubectl exits 1 with one line carrying its error', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'baked' }));
  const { bin } = await fakeKubectl(dir);
  const run = runCli(['deploy', '--apply'], {
    cwd: dir,
    env: { PATH: `${bin}:${process.env.PATH}`, FAKE_KUBECTL_FAIL: 'apply' },
  });
  assert.equal(run.status, 1);
  const lines = run.stderr.split('\n').filter((l) => l.startsWith('llmops: error'));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /kubectl-apply: `kubectl` exited with code 1: .*exceeded quota: gpu-quota/);
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace without --verbose');
});

test('a missing context (exit 2) and a missing kubectl (exit 1) are clear errors', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'baked' }));
  const { bin } = await fakeKubectl(dir);
  const noContext = runCli(['deploy', '--apply'], {
    cwd: dir,
    env: { PATH: `${bin}:${process.env.PATH}`, FAKE_KUBECTL_NO_CONTEXT: '1' },
  });
  assert.equal(noContext.status, 2);
  assert.match(noContext.stderr, /kubectl has no current context/);
  const named = runCli(['deploy', '--apply', '--context', 'nope'], {
    cwd: dir,
    env: { PATH: `${bin}:${process.env.PATH}`, FAKE_KUBECTL_NO_CONTEXT: '1' },
  });
  assert.match(named.stderr, /no context `nope`/);

  const noKubectl = runCli(['deploy', '--apply'], { cwd: dir, env: { PATH: path.join(dir, 'empty') } });
  assert.equal(noKubectl.status, 1);
  assert.match(noKubectl.stderr, /`kubectl` was not found on PATH/);
});
