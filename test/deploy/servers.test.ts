import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { deploy } from '../../src/deploy/index.js';
import type { Container, Deployment, KubeObject } from '../../src/k8s/objects.js';
import { checkApiServerRules } from '../../src/k8s/names.js';
import { isLlmopsError } from '../../src/errors.js';
import { checkServerArgv, loadContract, type ServerContract } from '../../src/servers/argv.js';
import { SERVER_IMAGES, type UpstreamServer } from '../../src/servers/catalog.js';
import { loadExample, officialSchemas, officialValidator, repoRoot, SCHEMAS_MISSING, SECRET_ENV } from './helpers.js';

/** One golden per server × storage strategy; `UPDATE_GOLDEN=1 npm test` rewrites them after an intended change. */
const GOLDEN_DIR = path.join(repoRoot, 'test/deploy/golden/servers');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const SERVERS: UpstreamServer[] = ['vllm', 'tgi', 'trtllm', 'triton'];
const REVISION = '0123abcd0123abcd0123abcd0123abcd0123abcd';
const MODEL_ID = 'acme/chat-7b';

/** Every way a model reaches the pod, with the directory the server must be pointed at (null: the Hub id). */
const STRATEGIES: Record<string, { storage: Record<string, unknown>; modelAt: string | null }> = {
  baked: { storage: { strategy: 'baked', path: '/models/model' }, modelAt: '/models/model' },
  'volume-claim': { storage: { strategy: 'volume', claimName: 'chat-weights' }, modelAt: '/models' },
  'volume-snapshot': {
    storage: { strategy: 'volume', size: '40Gi', dataSource: { kind: 'VolumeSnapshot', name: 'chat-7b-weights' } },
    modelAt: '/models',
  },
  'volume-populate': {
    storage: { strategy: 'volume', size: '40Gi', storageClass: 'standard-rwx' },
    modelAt: `/models/models/${MODEL_ID}/${REVISION}`,
  },
  init: {
    storage: { strategy: 'init', size: '40Gi', storageClass: 'standard-rwx' },
    modelAt: `/models/models/${MODEL_ID}/${REVISION}`,
  },
  gcsfuse: { storage: { strategy: 'gcsfuse', bucket: 'acme-models', modelSize: '15Gi' }, modelAt: '/models' },
  hub: { storage: { strategy: 'hub', modelSize: '15Gi' }, modelAt: null },
};

function config(server: UpstreamServer, storage: Record<string, unknown>): Record<string, unknown> {
  // Triton's image has no Hub client: downloads use a pinned image that has one.
  const downloader =
    server === 'triton' &&
    (storage.strategy === 'init' || (storage.strategy === 'volume' && storage.size && !storage.dataSource));
  const apiKey = { vllm: 'VLLM_API_KEY', tgi: 'API_KEY' }[server as string];
  return {
    name: 'chat',
    model: { id: MODEL_ID, revision: REVISION },
    serve: { image: SERVER_IMAGES[server], port: 8080, template: server },
    deploy: {
      namespace: 'llm',
      replicas: { min: 1, max: 4 },
      gpu: { type: 'nvidia-l4', count: 2 },
      storage: { ...storage, ...(downloader ? { downloaderImage: 'ghcr.io/acme/hf-downloader:1.1.5' } : {}) },
      secrets: [
        { env: 'HF_TOKEN', name: 'hf-token', key: 'token' },
        ...(apiKey ? [{ env: apiKey, name: 'chat-api-key', key: 'key' }] : []),
      ],
    },
  };
}

function serverContainer(objects: KubeObject[]): Container {
  const deployment = objects.find((o) => o.kind === 'Deployment') as Deployment;
  return deployment.spec.template.spec.containers.find((c) => c.name === 'server')!;
}

/** The value after a flag in an argv, in `--flag value` or `--flag=value` form. */
function flagValue(argv: string[], flag: string): string | undefined {
  const index = argv.indexOf(flag);
  if (index >= 0) return argv[index + 1];
  return argv.find((arg) => arg.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

/**
 * Where a cache the server writes ends up in this pod: the env var when set, else the upstream default read with the
 * pod's environment (`$VAR/x`, `~/x`, `tempfile.gettempdir()`; the first alternative whose variable is set).
 */
function cacheLocation(name: string, fallback: string, env: Record<string, string>): string | null {
  if (env[name]) return env[name];
  if (/tempfile\.gettempdir\(\)/.test(fallback)) return env.TMPDIR ?? '/tmp';
  for (const alternative of fallback.split(/\s+or\s+/)) {
    const match = /(\$[A-Z_]+|~|\/)([^\s)]*)/.exec(alternative);
    if (!match) continue;
    const [, head, tail] = match;
    if (head === '/') return `/${tail}`;
    const base = head === '~' ? env.HOME : env[head!.slice(1)];
    if (base) return `${base}${tail}`;
  }
  return null;
}

function writable(container: Container, file: string): boolean {
  return (container.volumeMounts ?? []).some(
    (m) => !m.readOnly && (file === m.mountPath || file.startsWith(`${m.mountPath}/`)),
  );
}

function checkAgainstContract(contract: ServerContract, container: Container, modelAt: string | null): void {
  const args = container.args ?? [];
  // 1. The server's own parser accepts the argv (deploy checked it too; this pins that it ran on what was emitted).
  checkServerArgv(contract.server, args);
  // 2. It names the model, the revision, the port and (where the server has one) the served name.
  const modelFlag = { vllm: '--model', tgi: '--model-id', trtllm: null, triton: '--model-repository' }[contract.server];
  const model = modelFlag ? flagValue(args, modelFlag) : args[1];
  assert.equal(model, modelAt ?? MODEL_ID, `${contract.server} model`);
  if (modelAt === null) assert.equal(flagValue(args, '--revision'), REVISION, `${contract.server} pinned revision`);
  const portFlag = { vllm: '--port', tgi: '--port', trtllm: '--port', triton: '--http-port' }[contract.server];
  assert.equal(flagValue(args, portFlag), '8080');
  if (contract.flags['--served-model-name']) assert.equal(flagValue(args, '--served-model-name'), 'chat');
  if (contract.flags['--tensor-parallel-size']) assert.equal(flagValue(args, '--tensor-parallel-size'), '2');
  // 3. Every probe hits a route the server serves without the API key, on the port that serves it.
  for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
    const get = probe?.httpGet;
    assert.ok(get, 'an HTTP probe');
    const route = Object.values(contract.routes).find(
      (r) => r.path === get.path && (r.port === undefined || r.port === get.port),
    );
    assert.ok(route, `${contract.server} serves ${get.path}`);
    assert.equal(route.auth, false, `${contract.server} ${get.path} answers without the API key`);
  }
  // 4. A read-only root filesystem, and every cache the server writes on a writable volume.
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  const env = Object.fromEntries(
    (container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]),
  );
  for (const name of ['HOME', 'XDG_CACHE_HOME', 'HF_HOME'])
    assert.ok(env[name] && writable(container, env[name]), `${name} is writable`);
  assert.ok(writable(container, '/tmp'), '/tmp is writable');
  for (const [name, cache] of Object.entries(contract.caches)) {
    const where = cacheLocation(name, cache.default, env);
    assert.ok(
      where && writable(container, where),
      `${contract.server} writes ${name} to ${where}: not on a writable volume`,
    );
  }
}

describe('every upstream server × storage strategy', { skip: SCHEMAS_MISSING }, () => {
  for (const server of SERVERS) {
    for (const [strategy, { storage, modelAt }] of Object.entries(STRATEGIES)) {
      const file = `${server}-${strategy}.yaml`;
      if (server === 'triton' && strategy === 'hub') {
        test(`${server} × ${strategy}: refused (Triton serves a model repository, not a Hub id)`, () => {
          assert.throws(
            () => loadExample(config(server, storage)),
            /hub needs a server that downloads from the Hub itself/,
          );
        });
        continue;
      }
      test(`${server} × ${strategy}: argv accepted by ${server}'s parser, probes on open routes, caches writable, valid, golden`, async () => {
        const env = { ...SECRET_ENV };
        const result = await deploy({
          config: loadExample(config(server, storage), env),
          schemas: await officialSchemas(),
          env,
        });
        const contract = loadContract(server);
        checkAgainstContract(contract, serverContainer(result.objects), modelAt);
        const validator = await officialValidator();
        for (const object of result.objects)
          assert.deepEqual(validator.validate(object), [], `${object.kind} is invalid`);
        assert.deepEqual(checkApiServerRules(result.objects), []);
        for (const value of Object.values(SECRET_ENV))
          assert.ok(!result.yaml.includes(value.split(',')[0]!), 'no secret value');

        const golden = path.join(GOLDEN_DIR, file);
        if (UPDATE) {
          await mkdir(GOLDEN_DIR, { recursive: true });
          await writeFile(golden, result.yaml);
        }
        const expected = await readFile(golden, 'utf8').catch(() => null);
        assert.ok(expected !== null, `missing golden ${golden}: run UPDATE_GOLDEN=1 npm test`);
        assert.equal(result.yaml, expected, `${file} changed: review the diff, then UPDATE_GOLDEN=1 npm test`);
      });
    }
  }
});

describe('the server argv is checked before anything is written', () => {
  const refused = (raw: Record<string, unknown>, ...fragments: string[]) =>
    assert.rejects(deploy({ config: loadExample(raw) }), (error: unknown) => {
      assert.ok(isLlmopsError(error), String(error));
      assert.equal(error.exitCode, 2);
      assert.doesNotMatch(error.message, /\n/);
      for (const fragment of fragments)
        assert.ok(error.message.includes(fragment), `${error.message} lacks ${fragment}`);
      return true;
    });

  test('an unknown flag in serve.extraArgs is exit 2 naming the flag and the server version', async () => {
    const raw = config('vllm', STRATEGIES.hub!.storage);
    (raw.serve as Record<string, unknown>).extraArgs = ['--max-model-length', '8192'];
    await refused(raw, '--max-model-length', 'v0.11.0', '--max-model-len');
  });

  test('serve.args replaces the derived flags and is checked; a flag missing its value is refused', async () => {
    const raw = config('tgi', STRATEGIES.hub!.storage);
    (raw.serve as Record<string, unknown>).args = ['--model-id', MODEL_ID, '--port'];
    await refused(raw, '--port');
  });

  test('TGI: an argument with a space is refused (its entrypoint splits $@ unquoted)', async () => {
    const raw = config('tgi', STRATEGIES.hub!.storage);
    (raw.serve as Record<string, unknown>).extraArgs = ['--hostname', 'a b'];
    await refused(raw, 'a b', 'unquoted');
  });

  test('serve.command replaces the entrypoint: a command of your own is not checked against the server', async () => {
    const raw = config('vllm', STRATEGIES.hub!.storage);
    Object.assign(raw.serve as Record<string, unknown>, {
      command: ['/opt/wrapper.sh'],
      extraArgs: ['--anything-goes'],
    });
    const container = serverContainer((await deploy({ config: loadExample(raw) })).objects);
    assert.deepEqual(container.command, ['/opt/wrapper.sh']);
    assert.equal(container.args!.at(-1), '--anything-goes');
  });

  test('serve.extraArgs are appended to the derived flags', async () => {
    const raw = config('trtllm', STRATEGIES.init!.storage);
    (raw.serve as Record<string, unknown>).extraArgs = ['--max_batch_size', '64'];
    const args = serverContainer((await deploy({ config: loadExample(raw) })).objects).args!;
    assert.deepEqual(args.slice(-2), ['--max_batch_size', '64']);
    assert.equal(args[0], 'trtllm-serve', 'the NGC entrypoint script execs its arguments');
  });
});

describe('a vLLM deployment with an API key', () => {
  test('its probes answer 200 without the key on a stand-in that guards what vLLM guards; /v1/models answers 401', async () => {
    const contract = loadContract('vllm');
    const guarded = contract.apiKey!.guardedPrefixes!;
    assert.deepEqual(guarded, ['/v1'], 'vLLM v0.11.0 guards the /v1 routes (vllm/entrypoints/openai/api_server.py)');
    const key = 'sk-standin-0123456789';
    // The stand-in serves the routes the contract lists and applies vLLM's rule: a path under a guarded prefix
    // needs `Authorization: Bearer <VLLM_API_KEY>`, every other path is open.
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const known = Object.values(contract.routes).some((r) => r.path === url.pathname);
      if (guarded.some((prefix) => url.pathname.startsWith(prefix)) && req.headers.authorization !== `Bearer ${key}`) {
        res.writeHead(401).end('{"error":"Unauthorized"}');
      } else res.writeHead(known ? 200 : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const raw = config('vllm', STRATEGIES.hub!.storage);
      const container = serverContainer((await deploy({ config: loadExample(raw) })).objects);
      assert.ok(
        container.env!.some((e) => e.name === 'VLLM_API_KEY' && e.valueFrom),
        'the key is set, from its Secret',
      );
      for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
        const response = await fetch(`http://127.0.0.1:${port}${probe!.httpGet!.path}`);
        assert.equal(response.status, 200, `${probe!.httpGet!.path} without the key`);
      }
      assert.equal((await fetch(`http://127.0.0.1:${port}/v1/models`)).status, 401, 'the stand-in enforces the key');
      assert.equal(
        (await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status,
        200,
      );
    } finally {
      server.close();
    }
  });
});
