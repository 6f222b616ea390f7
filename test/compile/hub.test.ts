import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ArtifactManifest } from '../../src/compile/index.js';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { startHubStandIn, type HubStandIn, type StandInFile } from '../helpers/hub-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const TOKEN = 'hf_standin_secret_token_0123456789';
const MAIN = 'a'.repeat(40);
const V1 = 'b'.repeat(40);
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('compile from the Hub (loopback stand-in)', () => {
  let hub: HubStandIn;
  before(async () => {
    const tiny = await ensureTinyModel();
    const files: StandInFile[] = [];
    for (const name of (await readdir(tiny)).sort())
      files.push({ path: name, content: await readFile(path.join(tiny, name)), lfs: name.endsWith('.onnx') });
    // v1 differs from main by its generation config, so the two revisions are distinct commits.
    const v1 = files.map((file) =>
      file.path === 'generation_config.json'
        ? { ...file, content: Buffer.from(`${file.content.toString().trim()}\n\n`) }
        : file,
    );
    hub = await startHubStandIn(
      [
        { id: 'acme/tiny', revisions: { main: MAIN, v1: V1 }, commits: { [MAIN]: files, [V1]: v1 } },
        { id: 'acme/gated', revisions: { main: MAIN }, commits: { [MAIN]: files }, gated: true },
        { id: 'acme/corrupt', revisions: { main: MAIN }, commits: { [MAIN]: files }, corrupt: ['model.onnx'] },
      ],
      TOKEN,
    );
  });
  after(async () => {
    await hub.close();
  });

  const env = (cache: string, extra: NodeJS.ProcessEnv = {}) => ({
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: cache,
    HF_TOKEN: '',
    ...extra,
  });

  it('a public repo: resolves main to its commit, fills the shared cache in huggingface_hub layout, records the source', async () => {
    const [cwd, cache] = [await tempDir('llmops-hub-'), await tempDir('llmops-hub-')];
    const result = await runCli(['compile', '--model', 'acme/tiny', '--out', 'art', '--json'], {
      cwd,
      env: env(cache),
    });
    assert.equal(result.code, 0, result.stderr);
    const manifest = JSON.parse(result.stdout) as ArtifactManifest;
    assert.deepEqual(manifest.source, { model: 'acme/tiny', revision: 'main', commit: MAIN });
    const repoDir = path.join(cache, 'models--acme--tiny');
    assert.equal((await readFile(path.join(repoDir, 'refs', 'main'), 'utf8')).trim(), MAIN);
    assert.ok((await stat(path.join(repoDir, 'snapshots', MAIN, 'model.onnx'))).isFile());
    assert.ok((await readdir(path.join(repoDir, 'blobs'))).length >= 6);
  });

  it('a pinned revision resolves to its own commit', async () => {
    const [cwd, cache] = [await tempDir('llmops-hub-'), await tempDir('llmops-hub-')];
    const result = await runCli(['compile', '--model', 'acme/tiny', '--revision', 'v1', '--out', 'art', '--json'], {
      cwd,
      env: env(cache),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((JSON.parse(result.stdout) as ArtifactManifest).source, {
      model: 'acme/tiny',
      revision: 'v1',
      commit: V1,
    });
    assert.equal((await readFile(path.join(cache, 'models--acme--tiny', 'refs', 'v1'), 'utf8')).trim(), V1);
  });

  it('a gated repo without a token exits 2 and writes nothing; with HF_TOKEN it succeeds and the token appears nowhere', async () => {
    const [cwd, cache] = [await tempDir('llmops-hub-'), await tempDir('llmops-hub-')];
    const denied = await runCli(['compile', '--model', 'acme/gated', '--out', 'art'], { cwd, env: env(cache) });
    assert.equal(denied.code, 2, denied.stderr);
    assert.match(denied.stderr, /acme\/gated is gated or private \(HTTP 401\).*accept the model license.*HF_TOKEN/);
    assert.ok(isOneLineError(denied.stderr));
    assert.deepEqual(await readdir(cwd), []);

    const allowed = await runCli(['compile', '--model', 'acme/gated', '--out', 'art', '--json', '--verbose'], {
      cwd,
      env: env(cache, { HF_TOKEN: TOKEN }),
    });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.ok(hub.requests.some((request) => request.authorized));
    for (const text of [allowed.stdout, allowed.stderr, await readFile(path.join(cwd, 'art', 'llmops.json'), 'utf8')])
      assert.ok(!text.includes(TOKEN));
    const config = await runCli(['config', '--json'], { cwd, env: env(cache, { HF_TOKEN: TOKEN }) });
    assert.ok(!config.stdout.includes(TOKEN));
  });

  it('a corrupted download is detected, reported in one line (exit 1), and removed from the cache', async () => {
    const [cwd, cache] = [await tempDir('llmops-hub-'), await tempDir('llmops-hub-')];
    const result = await runCli(['compile', '--model', 'acme/corrupt', '--out', 'art'], { cwd, env: env(cache) });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /acme\/corrupt: model\.onnx is corrupt \(sha256 .* from the Hub\)/);
    assert.deepEqual(await readdir(cwd), []);
    const snapshot = path.join(cache, 'models--acme--corrupt', 'snapshots', MAIN);
    assert.ok(!(await readdir(snapshot)).includes('model.onnx'), 'the corrupt file is not left in the cache');
  });

  it('a missing repo or revision exits 2; a refused connection exits 1 naming the endpoint', async () => {
    const [cwd, cache] = [await tempDir('llmops-hub-'), await tempDir('llmops-hub-')];
    const missing = await runCli(['compile', '--model', 'acme/nope', '--out', 'art'], { cwd, env: env(cache) });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /acme\/nope@main was not found/);
    const badRevision = await runCli(['compile', '--model', 'acme/tiny', '--revision', 'v9', '--out', 'art'], {
      cwd,
      env: env(cache),
    });
    assert.equal(badRevision.code, 2);
    const closed = await closedPort();
    const refused = await runCli(['compile', '--model', 'acme/tiny', '--out', 'art'], {
      cwd,
      env: env(cache, { HF_ENDPOINT: `http://127.0.0.1:${closed}` }),
    });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`cannot reach the Hub at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`),
    );
    assert.ok(isOneLineError(refused.stderr));
  });

  it('a dry run of a Hub model needs no network', async () => {
    const [cwd, cache] = [await tempDir('llmops-hub-'), await tempDir('llmops-hub-')];
    const result = await runCli(
      ['compile', '--model', 'acme/tiny', '--backend', 'optimum', '--image', 'img:1', '--dry-run', '--json'],
      { cwd, env: env(cache, { HF_ENDPOINT: 'http://127.0.0.1:9' }) },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /models--acme--tiny\/snapshots\/<main>:\/model:ro/);
  });
});
