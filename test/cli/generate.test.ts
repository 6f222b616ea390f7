import assert from 'node:assert/strict';
import { cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('llmops generate', () => {
  let model: string;
  let cacheEnv: NodeJS.ProcessEnv;
  before(async () => {
    const cacheDir = await tempDir('llmops-cache-');
    model = await ensureTinyModel({ cacheDir });
    cacheEnv = { LLMOPS_CACHE_DIR: cacheDir };
  });

  it('streams the completion of the embedded model, and --json reports the same generation', async () => {
    const text = await runCli(['generate', '--prompt', 'Hello there', '--max-tokens', '12'], { env: cacheEnv });
    assert.equal(text.code, 0, text.stderr);
    const json = await runCli(['generate', '--prompt', 'Hello there', '--max-tokens', '12', '--json'], {
      env: cacheEnv,
    });
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(result).sort(), [
      'finishReason',
      'promptTokens',
      'text',
      'tokenIds',
      'tokensPerSecond',
      'ttftMs',
    ]);
    assert.equal(text.stdout, `${result.text as string}\n`);
    assert.equal((result.tokenIds as number[]).length, 12);
    assert.equal(result.finishReason, 'length');
    assert.ok((result.ttftMs as number) > 0);
    assert.match(text.stderr, /12 tokens \(length\) · TTFT/);
  });

  it('takes a model directory and sampling flags', async () => {
    const args = [
      'generate',
      model,
      '-p',
      'abc',
      '-n',
      '8',
      '--temperature',
      '0.9',
      '--top-k',
      '20',
      '--top-p',
      '0.9',
      '--seed',
      '3',
      '--json',
    ];
    const first = JSON.parse((await runCli(args)).stdout) as { tokenIds: number[] };
    const second = JSON.parse((await runCli(args)).stdout) as { tokenIds: number[] };
    assert.deepEqual(first.tokenIds, second.tokenIds);
  });

  it('reads generation defaults from llmops.yaml, and flags win', async () => {
    const cwd = await tempDir('llmops-gen-');
    await writeFile(path.join(cwd, 'llmops.yaml'), `model: ${JSON.stringify(model)}\ngenerate:\n  maxTokens: 3\n`);
    const fromFile = JSON.parse((await runCli(['generate', '-p', 'x', '--json'], { cwd })).stdout) as {
      tokenIds: number[];
    };
    assert.equal(fromFile.tokenIds.length, 3);
    const fromFlag = JSON.parse((await runCli(['generate', '-p', 'x', '-n', '5', '--json'], { cwd })).stdout) as {
      tokenIds: number[];
    };
    assert.equal(fromFlag.tokenIds.length, 5);
  });

  const badInputs: Array<[string, () => Promise<string[]>, RegExp]> = [
    ['a missing directory', async () => ['/nonexistent/dir'], /model directory \/nonexistent\/dir does not exist/],
    [
      'a directory without a model',
      async () => [await tempDir('llmops-empty-')],
      /has no model\.onnx or onnx\/model\.onnx/,
    ],
    [
      'a corrupt model.onnx',
      async () => {
        const copy = await tempDir('llmops-corrupt-');
        await cp(model, copy, { recursive: true });
        await writeFile(path.join(copy, 'model.onnx'), Buffer.from([8, 7, 0xff, 0xff, 0xff]));
        return [copy];
      },
      /cannot load .*model\.onnx/,
    ],
    [
      'a missing tokenizer',
      async () => {
        const copy = await tempDir('llmops-notok-');
        await cp(model, copy, { recursive: true });
        await rm(path.join(copy, 'tokenizer.json'));
        return [copy];
      },
      /has no tokenizer\.json/,
    ],
    [
      'a Hub id that is not local',
      async () => ['acme/tiny-gpt'],
      /looks like a Hub id.*llmops compile --model acme\/tiny-gpt/,
    ],
    ['a temperature out of range', async () => ['--temperature', '-1'], /--temperature.*non-negative number/],
    ['an unknown provider', async () => ['--provider', 'tpu'], /argument 'tpu' is invalid.*cpu, cuda, tensorrt/],
  ];
  for (const [name, args, message] of badInputs) {
    it(`exits 2 with one clear line for ${name}`, async () => {
      const result = await runCli(['generate', ...(await args()), '--prompt', 'x'], { env: cacheEnv });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.ok(isOneLineError(result.stderr), result.stderr);
      assert.equal(result.stdout, '');
    });
  }

  it('a missing --prompt is a usage error', async () => {
    const result = await runCli(['generate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /required option '-p, --prompt <text>' not specified/);
  });
});
