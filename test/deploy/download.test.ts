import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { deploy } from '../../src/deploy/index.js';
import type { Job } from '../../src/k8s/objects.js';
import { DOWNLOAD_SCRIPT } from '../../src/deploy/storage.js';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { runCli } from '../helpers/cli.js';
import { exampleConfig, loadExample, tempDir } from './helpers.js';

const REVISION = '0123abcd0123abcd0123abcd0123abcd0123abcd';
const work = await tempDir('llmops-download-test-');
after(() => rm(work, { recursive: true, force: true }));

/**
 * A `python3` stand-in for huggingface_hub's snapshot_download: it copies the embedded tiny model into the directory
 * the script passes (PARTIAL), slowly enough that two pods really overlap.
 */
async function fakePython(): Promise<string> {
  const bin = path.join(work, 'bin');
  await mkdir(bin, { recursive: true });
  const script = path.join(bin, 'python3');
  await writeFile(script, `#!/bin/sh\nset -e\ncp -R "$TINY_MODEL"/. "$PARTIAL"/\nsleep "\${DOWNLOAD_SECONDS:-0.2}"\n`);
  await chmod(script, 0o755);
  return bin;
}

interface Volume {
  root: string;
  modelDir: string;
  engineDir: string;
}

async function freshVolume(name: string): Promise<Volume> {
  const root = path.join(work, name);
  await mkdir(root, { recursive: true });
  return {
    root,
    modelDir: path.join(root, 'models/acme/tiny-gpt', REVISION),
    engineDir: path.join(root, 'engines/acme/tiny-gpt', REVISION, 'ort'),
  };
}

/** Runs the download script as one pod's init container does (its own HOSTNAME). */
function download(
  volume: Volume,
  pod: string,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', DOWNLOAD_SCRIPT], {
      env: {
        PATH: `${path.join(work, 'bin')}:${process.env.PATH}`,
        HOSTNAME: pod,
        MODEL_DIR: volume.modelDir,
        HF_REPO: 'acme/tiny-gpt',
        HF_REVISION: REVISION,
        STALE_MINUTES: '5',
        TINY_MODEL: tinyModel,
        ...extraEnv,
      },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** What the compile Job's container runs after its download init container: the real CLI. */
async function compile(volume: Volume): Promise<void> {
  const result = await runCli(
    ['compile', '--model', volume.modelDir, '--backend', 'ort', '--out', volume.engineDir, '--force'],
    { timeoutMs: 120_000 },
  );
  assert.equal(result.code, 0, result.stderr);
}

async function assertServable(volume: Volume): Promise<void> {
  const model = await readdir(volume.modelDir);
  assert.ok(model.includes('.llmops-complete'), 'the download is marked complete');
  assert.ok(model.includes('config.json'));
  assert.ok(!model.includes('.llmops-heartbeat'), 'no heartbeat left in the finished download');
  assert.ok((await readdir(volume.engineDir)).includes('llmops.json'), 'the engine the pods wait for');
  const partials = (await readdir(path.dirname(volume.modelDir))).filter((name) => name.includes('.partial-'));
  assert.deepEqual(partials, [], 'no partial download left');
}

const tinyModel = await ensureTinyModel();
await fakePython();

describe('the download script and the compile Job share one volume', () => {
  test('a pod downloads, then the compile Job (its own download a no-op) writes the engine; a later pod finds the model', async () => {
    const volume = await freshVolume('pod-first');
    assert.equal((await download(volume, 'pod-a')).code, 0);
    const job = await download(volume, 'compile-job');
    assert.equal(job.code, 0);
    assert.match(job.output, /already on the volume/);
    await compile(volume);
    assert.match((await download(volume, 'pod-b')).output, /already on the volume/);
    await assertServable(volume);
  });

  test('the compile Job first (it downloads, then writes the engine beside the download); pods then find both', async () => {
    const volume = await freshVolume('job-first');
    assert.equal((await download(volume, 'compile-job')).code, 0);
    await compile(volume);
    const pod = await download(volume, 'pod-a');
    assert.equal(pod.code, 0, pod.output);
    assert.match(pod.output, /already on the volume/);
    await assertServable(volume);
  });

  test('the engines tree existing before any download does not block it (the old layout put engines inside the model directory)', async () => {
    const volume = await freshVolume('engine-tree-first');
    await mkdir(volume.engineDir, { recursive: true });
    assert.equal((await download(volume, 'pod-a')).code, 0);
    await compile(volume);
    await assertServable(volume);
  });

  test('a pod and the compile Job downloading at once: one renames its copy into place, the other sees the marker', async () => {
    const volume = await freshVolume('together');
    const slow = { DOWNLOAD_SECONDS: '0.5' };
    const [a, b] = await Promise.all([download(volume, 'pod-a', slow), download(volume, 'compile-job', slow)]);
    assert.equal(a.code, 0, a.output);
    assert.equal(b.code, 0, b.output);
    assert.equal([a.output, b.output].filter((o) => /another pod finished the download first/.test(o)).length, 1);
    await compile(volume);
    await assertServable(volume);
  });

  test('a partial download whose pod died is removed; one still being written is left alone', async () => {
    const volume = await freshVolume('stale');
    await mkdir(path.dirname(volume.modelDir), { recursive: true });
    const dead = `${volume.modelDir}.partial-dead-pod`;
    const live = `${volume.modelDir}.partial-live-pod`;
    await mkdir(dead);
    await writeFile(path.join(dead, '.llmops-heartbeat'), '');
    const anHourAgo = new Date(Date.now() - 3600_000);
    await utimes(path.join(dead, '.llmops-heartbeat'), anHourAgo, anHourAgo);
    await utimes(dead, anHourAgo, anHourAgo);
    await mkdir(live);
    await writeFile(path.join(live, '.llmops-heartbeat'), '');
    const run = await download(volume, 'pod-a');
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /removing an abandoned partial download: .*partial-dead-pod/);
    await assert.rejects(stat(dead));
    assert.ok((await stat(live)).isDirectory());
  });

  test('a directory in the way that is no finished download fails the init container with a message (no silent loop)', async () => {
    const volume = await freshVolume('blocked');
    await mkdir(path.join(volume.modelDir, 'something'), { recursive: true });
    const run = await download(volume, 'pod-a');
    assert.equal(run.code, 1);
    assert.match(run.output, /exists but holds no finished download: remove it/);
  });

  test('the emitted init container and compile Job run exactly this script and these paths', async () => {
    const config = loadExample(
      exampleConfig({ strategy: 'init', extra: { compileJob: { image: 'ghcr.io/acme/llmops:0.1.0' } } }),
    );
    const result = await deploy({ config });
    const job = result.objects.find((o) => o.kind === 'Job') as Job;
    const init = job.spec.template.spec.initContainers![0]!;
    assert.deepEqual(init.command, ['sh', '-c', DOWNLOAD_SCRIPT]);
    assert.equal(init.env!.find((e) => e.name === 'MODEL_DIR')!.value, `/models/models/acme/tiny-gpt/${REVISION}`);
    const args = job.spec.template.spec.containers[0]!.args!;
    assert.equal(args[args.indexOf('--model') + 1], `/models/models/acme/tiny-gpt/${REVISION}`);
    assert.equal(args[args.indexOf('--out') + 1], `/models/engines/acme/tiny-gpt/${REVISION}/ort`);
  });
});
