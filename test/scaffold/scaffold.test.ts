import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/index.js';
import { CausalLM } from '../../src/engine/index.js';
import { isOneLineError, repoRoot, runCli } from '../helpers/cli.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const REFERENCE = path.join(repoRoot, 'test', 'fixtures', 'reference', 'llama-gqa');
const KEY = 'sk-test-123';

/** Generates a node project for a model and builds it offline, with llmops's own node_modules. */
async function generateNodeProject(model?: string): Promise<string> {
  const root = await tempDir('llmops-scaffold-');
  const dir = path.join(root, 'svc');
  const result = await runCli(['scaffold', dir, '--template', 'node', ...(model ? ['--model', model] : []), '--json']);
  assert.equal(result.code, 0, result.stderr);
  await symlink(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    { cwd: dir, stdio: 'pipe' },
  );
  return dir;
}

describe('scaffold --template node on a model llmops did not build (PyTorch export)', () => {
  let dir: string;
  let server: ServerProcess;
  before(async () => {
    dir = await generateNodeProject(REFERENCE);
    // 4-token prefill chunks: every prompt below is prefilled in chunks, and must still give llmops generate's text.
    server = await startServerProcess('dist/src/main.js', {
      cwd: dir,
      env: { API_KEYS: KEY, RATE_LIMIT: '600/minute', PREFILL_CHUNK_TOKENS: '4' },
    });
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
  });

  async function generateText(prompt: string, maxTokens: number): Promise<string> {
    const result = await runCli([
      'generate',
      REFERENCE,
      '--prompt',
      prompt,
      '--max-tokens',
      String(maxTokens),
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { text: string }).text;
  }

  it('answers the official openai client — plain, streamed and chat — with the greedy text of llmops generate', async () => {
    const { default: OpenAI } = await import('openai');
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY });
    const expected = await generateText('Hello, world', 12);

    const plain = await client.completions.create({
      model: 'svc',
      prompt: 'Hello, world',
      max_tokens: 12,
      temperature: 0,
    });
    assert.equal(plain.choices[0]!.text, expected);
    assert.equal(plain.usage?.completion_tokens, 12);

    let streamed = '';
    let usage: { completion_tokens: number } | undefined;
    const stream = await client.completions.create({
      model: 'svc',
      prompt: 'Hello, world',
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(streamed, expected);
    assert.equal(usage?.completion_tokens, 12);

    const chatExpected = await generateText('user: Hi there\nassistant:', 10);
    const chat = await client.chat.completions.create({
      model: 'svc',
      messages: [{ role: 'user', content: 'Hi there' }],
      max_tokens: 10,
      temperature: 0,
    });
    assert.equal(chat.choices[0]!.message.content, chatExpected);
    let chatStreamed = '';
    for await (const chunk of await client.chat.completions.create({
      model: 'svc',
      messages: [{ role: 'user', content: 'Hi there' }],
      max_tokens: 10,
      temperature: 0,
      stream: true,
    })) {
      chatStreamed += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(chatStreamed, chatExpected);
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['svc'],
    );
  });

  it('logit_bias bans a token or forces end-of-sequence, and ignore_eos generates past it, through the client', async () => {
    const { default: OpenAI, BadRequestError } = await import('openai');
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const complete = async (extra: Record<string, unknown>) => {
      const body = { model: 'svc', prompt: 'Hello, world', max_tokens: 6, temperature: 0, ...extra };
      const { choices, usage } = await client.completions.create(body as { model: string; prompt: string });
      return { text: choices[0]!.text, finish: choices[0]!.finish_reason, tokens: usage!.completion_tokens };
    };
    const lm = await CausalLM.load({ dir: REFERENCE });
    const greedy = await lm.generate('Hello, world', { maxTokens: 6 });
    const ban = new Map([[greedy.tokenIds[0]!, -100]]);
    const expected = await lm.generate('Hello, world', { maxTokens: 6, logitBias: ban });
    const eos = [...lm.eosTokenIds][0]!;
    await lm.dispose();
    assert.notEqual(expected.tokenIds[0], greedy.tokenIds[0]);

    assert.equal((await complete({})).text, greedy.text);
    assert.equal((await complete({ logit_bias: { [greedy.tokenIds[0]!]: -100 } })).text, expected.text);
    assert.notEqual(expected.text, greedy.text);
    assert.deepEqual(await complete({ logit_bias: { [eos]: 100 } }), { text: '', finish: 'stop', tokens: 0 });
    const ignored = await complete({ logit_bias: { [eos]: 100 }, ignore_eos: true });
    assert.deepEqual([ignored.finish, ignored.tokens], ['length', 6]);
    for (const logitBias of [{ x: 1 }, { [eos]: 101 }, { [lm.vocabSize!]: 1 }]) {
      await assert.rejects(
        complete({ logit_bias: logitBias }),
        (error: unknown) => error instanceof BadRequestError && /logit_bias/.test(error.message),
      );
    }
  });

  it('a wrong key is 401 and max_tokens -5 is 400 through the client', async () => {
    const { default: OpenAI, AuthenticationError, BadRequestError } = await import('openai');
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(
      wrong.completions.create({ model: 'svc', prompt: 'x', max_tokens: 2 }),
      (error: unknown) => error instanceof AuthenticationError && error.status === 401,
    );
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
    await assert.rejects(
      client.completions.create({ model: 'svc', prompt: 'x', max_tokens: -5 }),
      (error: unknown) => error instanceof BadRequestError && /max_tokens/.test(error.message),
    );
  });

  it('/metrics passes promtool check metrics', async (t) => {
    const promtool = spawnSync('promtool', ['--version']);
    if (promtool.error) return t.skip('promtool not installed (apt-get install prometheus)');
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});

describe("a generated node project's own tests", () => {
  it('pass (what its CI workflow runs), so the template never ships tests that fail', async () => {
    const dir = await generateNodeProject();
    // NODE_TEST_CONTEXT would make the child report to this runner's protocol instead of printing its own TAP.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', 'dist/test/'], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const passed = Number(/^# pass (\d+)$/m.exec(run.stdout)?.[1]);
    assert.ok(passed > 0, run.stdout);
    assert.match(run.stdout, /^# fail 0$/m);
  });
});

describe('node server KV memory', () => {
  it('reserves KV memory for a full batch at start-up (KV_RESERVE_POSITIONS), serves from it, and says so in /metrics', async () => {
    // A GroupQueryAttention export: the in-place KV path, which the reservation is for.
    const model = path.join(repoRoot, 'test', 'fixtures', 'reference', 'gpt2-gqa');
    const dir = await generateNodeProject(model);
    const server = await startServerProcess('dist/src/main.js', {
      cwd: dir,
      env: { MAX_BATCH_SIZE: '4', KV_RESERVE_POSITIONS: '40' },
    });
    try {
      const texts = await Promise.all(
        [8, 20, 30].map(async (maxTokens) => {
          const response = await fetch(`${server.url}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ prompt: 'The model server', max_tokens: maxTokens, temperature: 0 }),
          });
          return ((await response.json()) as { choices: Array<{ text: string }> }).choices[0]!.text;
        }),
      );
      const lm = await CausalLM.load({ dir: model });
      const { kvHeads, headDim, layers } = lm.signature;
      assert.deepEqual(texts, [
        (await lm.generate('The model server', { maxTokens: 8, temperature: 0 })).text,
        (await lm.generate('The model server', { maxTokens: 20, temperature: 0 })).text,
        (await lm.generate('The model server', { maxTokens: 30, temperature: 0 })).text,
      ]);
      await lm.dispose();
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
      // 4 rows and two single sequences, at the capacity 40 positions grow to (40 + 64).
      assert.equal(gauge('llmops_kv_memory_reserved_bytes'), layers.length * 2 * (4 + 2) * kvHeads * 104 * headDim * 4);
      assert.equal(gauge('llmops_kv_memory_grown_bytes'), 0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});

describe('node server limits and shutdown', () => {
  let dir: string;
  before(async () => {
    dir = await generateNodeProject();
  });

  it('over the rate limit answers 429 with Retry-After', async () => {
    const server = await startServerProcess('dist/src/main.js', {
      cwd: dir,
      env: { API_KEYS: KEY, RATE_LIMIT: '3/minute', RATE_LIMIT_BURST: '3' },
    });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i += 1) {
        const response = await fetch(`${server.url}/v1/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'x', max_tokens: 1 }),
        });
        statuses.push(response.status);
        if (response.status === 429) retryAfter = response.headers.get('retry-after');
        await response.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('SIGTERM with 12 streams in flight: all 12 finish with [DONE], new requests are refused, exit 0', async () => {
    const server = await startServerProcess('dist/src/main.js', {
      cwd: dir,
      env: { SHUTDOWN_TIMEOUT: '60', MAX_BATCH_SIZE: '4' },
    });
    const streams = Array.from({ length: 12 }, (_, i) =>
      fetch(`${server.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `stream ${i}`, max_tokens: 240, temperature: 0, stream: true }),
      }).then(async (response) => ({
        status: response.status,
        body: await response.text(),
      })),
    );
    // Wait until all 12 are inside the server (running or queued), then ask it to stop.
    let depth = 0;
    for (let i = 0; i < 500 && depth < 12; i += 1) {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      depth = Number(/^llmops_queue_depth (\d+)$/m.exec(metrics)?.[1] ?? 0);
      if (depth < 12) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(depth, 12, 'all 12 streams are in flight before SIGTERM');
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'late', max_tokens: 2 }),
    }).then(
      (response) => response.status,
      () => 'connection refused',
    );
    const results = await Promise.all(streams);
    assert.equal(await server.exited, 0, server.stderr());
    assert.ok(refused === 503 || refused === 'connection refused', `late request: ${refused}`);
    for (const result of results) {
      assert.equal(result.status, 200);
      assert.ok(result.body.endsWith('data: [DONE]\n\n'), result.body.slice(-80));
    }
    assert.match(server.stderr(), /SIGTERM: draining/);
  });
});

describe('llmops scaffold', () => {
  it('refuses a non-empty directory without --force (exit 2, nothing changed), and writes into it with --force keeping .git', async () => {
    const dir = await tempDir('llmops-scaffold-');
    await writeFile(path.join(dir, 'keep.txt'), 'mine');
    await writeFile(path.join(dir, 'README.md'), 'old');
    const refused = await runCli(['scaffold', dir, '--name', 'svc']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is not empty.*--force/);
    assert.ok(isOneLineError(refused.stderr));
    assert.deepEqual((await readdir(dir)).sort(), ['README.md', 'keep.txt']);
    const forced = await runCli([
      'scaffold',
      dir,
      '--name',
      'svc',
      '--force',
      '--template',
      'vllm',
      '--model',
      'acme/tiny',
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await readFile(path.join(dir, 'keep.txt'), 'utf8'), 'mine');
    assert.notEqual(await readFile(path.join(dir, 'README.md'), 'utf8'), 'old');
    assert.ok(
      (await readdir(path.dirname(dir))).every((entry) => !entry.includes('.scaffold-')),
      'no temp dir left',
    );
  });

  it('validates the name and suggests a fix', async () => {
    const root = await tempDir('llmops-scaffold-');
    const result = await runCli(['scaffold', path.join(root, 'My_Server')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /invalid name `My_Server`.*DNS-1123.*try --name my-server/);
    assert.deepEqual(await readdir(root), []);
  });

  it('lists the templates, and an unknown template is a usage error', async () => {
    const list = await runCli(['scaffold', '--list', '--json']);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { templates: Array<{ name: string }> }).templates.map((t) => t.name),
      ['node', 'fastapi', 'vllm', 'tgi', 'trtllm', 'triton'],
    );
    const unknown = await runCli(['scaffold', 'x', '--template', 'django']);
    assert.equal(unknown.code, 2);
  });

  it('writes an llmops.yaml that llmops itself accepts, renames dotfiles and vendors the engine', async () => {
    const root = await tempDir('llmops-scaffold-');
    const dir = path.join(root, 'svc');
    const result = await runCli(['scaffold', dir, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const files = (JSON.parse(result.stdout) as { files: string[] }).files;
    for (const file of [
      '.gitignore',
      '.npmrc',
      '.dockerignore',
      '.github/workflows/llmops.yml',
      'Dockerfile',
      'locustfile.py',
      'README.md',
      'src/engine/causal-lm.ts',
      'src/errors.ts',
      'model/',
    ]) {
      assert.ok(files.includes(file), `${file} in ${files.join(', ')}`);
    }
    const yamlText = await readFile(path.join(dir, 'llmops.yaml'), 'utf8');
    const { config } = parseConfig(yamlText, { file: 'llmops.yaml' });
    assert.equal(config.name, 'svc');
    assert.equal((parse(yamlText) as { model: string }).model, './model');
    assert.deepEqual(
      (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> })
        .dependencies['onnxruntime-node'],
      '^1.30.0',
    );
    assert.doesNotMatch(await readFile(path.join(dir, 'src', 'settings.ts'), 'utf8'), /\{\{/);
    assert.match(
      await readFile(path.join(dir, '.github', 'workflows', 'llmops.yml'), 'utf8'),
      /\$\{\{ secrets\.HF_TOKEN \}\}/,
    );
  });
});
