import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/index.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { parseTextFormat, validateAgainst } from '../helpers/pbtxt.js';
import { tempDir } from '../helpers/temp-dir.js';

const temps: string[] = [];
after(async () => Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true }))));
async function generate(template: string, extra: string[] = []): Promise<string> {
  const root = await tempDir(`llmops-tpl-${template}-`);
  temps.push(root);
  const dir = path.join(root, 'svc');
  const result = await runCli(['scaffold', dir, '--template', template, ...extra]);
  assert.equal(result.code, 0, result.stderr);
  return dir;
}

async function pythonFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.py')).map((f) => path.join(dir, f));
}

describe('scaffold templates', () => {
  it('fastapi: every Python file compiles, the model is copied, requirements are pinned', async (t) => {
    const dir = await generate('fastapi');
    const files = await pythonFiles(dir);
    assert.ok(files.some((f) => f.endsWith(path.join('app', 'main.py'))));
    const python = spawnSync('/usr/bin/python3', ['--version']);
    if (python.error) return t.skip('/usr/bin/python3 not installed');
    const compiled = spawnSync('/usr/bin/python3', ['-m', 'py_compile', ...files], { encoding: 'utf8' });
    assert.equal(compiled.status, 0, compiled.stderr);
    for (const line of (await readFile(path.join(dir, 'requirements.txt'), 'utf8'))
      .split('\n')
      .filter((l) => l && !l.startsWith('#')))
      assert.match(line, /==\d/);
    assert.ok((await readdir(path.join(dir, 'model'))).includes('model.onnx'));
  });

  for (const template of ['vllm', 'tgi', 'trtllm'] as const) {
    it(`${template}: compose file with engine arguments from the model, secrets by name only, a valid llmops.yaml`, async () => {
      const dir = await generate(template, ['--model', 'Qwen/Qwen2.5-0.5B-Instruct', '--revision', 'v1.0']);
      const compose = parse(await readFile(path.join(dir, 'compose.yaml'), 'utf8')) as {
        services: Record<string, { image: string; command: string[]; environment: string[] }>;
      };
      const service = compose.services.svc!;
      assert.match(service.image, /:[\w.-]+$/);
      assert.doesNotMatch(service.image, /:latest$/);
      const args = service.command.join(' ');
      assert.match(args, /Qwen\/Qwen2\.5-0\.5B-Instruct/);
      assert.match(
        args,
        template === 'tgi'
          ? /--revision v1\.0/
          : template === 'vllm'
            ? /--revision v1\.0 .*--served-model-name svc/
            : /--tp_size 1/,
      );
      assert.ok(
        service.environment.every((entry) => !entry.includes('=')),
        'secrets are passed by name',
      );
      const yamlText = await readFile(path.join(dir, 'llmops.yaml'), 'utf8');
      assert.deepEqual((parse(yamlText) as { model: unknown }).model, {
        id: 'Qwen/Qwen2.5-0.5B-Instruct',
        revision: 'v1.0',
      });
      assert.equal(parseConfig(yamlText).config.name, 'svc');
      for (const file of await pythonFiles(dir))
        assert.equal(spawnSync('/usr/bin/python3', ['-m', 'py_compile', file]).status, 0);
    });
  }

  for (const template of ['node', 'fastapi', 'vllm', 'tgi', 'trtllm', 'triton'] as const) {
    it(`${template}: the project deploys with its own llmops.yaml, and the server command line matches its compose file`, async () => {
      const hub = template === 'vllm' || template === 'tgi' || template === 'trtllm';
      const dir = await generate(
        template,
        hub ? ['--model', 'Qwen/Qwen2.5-0.5B-Instruct', '--revision', '0123abcd0123abcd0123abcd0123abcd0123abcd'] : [],
      );
      const run = await runCli(['deploy', '-o', 'yaml'], { cwd: dir });
      assert.equal(run.code, 0, run.stderr);
      const docs = parseAllDocuments(run.stdout).map(
        (d) =>
          d.toJS() as {
            kind: string;
            spec: { template: { spec: { containers: { name: string; args?: string[] }[] } } };
          },
      );
      const server = docs
        .find((d) => d.kind === 'Deployment')!
        .spec.template.spec.containers.find((c) => c.name === 'server')!;
      if (!hub) return;
      // Compose and Kubernetes run one command line, built by one function, except for the port and served name.
      const compose = parse(await readFile(path.join(dir, 'compose.yaml'), 'utf8')) as {
        services: Record<string, { command: string[] }>;
      };
      assert.deepEqual(server.args, compose.services.svc!.command);
    });
  }

  it('vllm, tgi and trtllm serve checkpoints: without --model they say so (exit 2) instead of scaffolding the embedded ONNX model', async () => {
    const root = await tempDir('llmops-tpl-');
    temps.push(root);
    const result = await runCli(['scaffold', path.join(root, 'svc'), '--template', 'vllm']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /serves a Hugging Face checkpoint.*--model/);
    assert.deepEqual(await readdir(root), []);
  });

  it('tgi says it is in maintenance upstream', async () => {
    const root = await tempDir('llmops-tpl-');
    temps.push(root);
    const result = await runCli(['scaffold', path.join(root, 'svc'), '--template', 'tgi', '--model', 'acme/m']);
    assert.match(result.stderr, /maintenance mode upstream; prefer --template vllm/);
    assert.match(await readFile(path.join(root, 'svc', 'README.md'), 'utf8'), /maintenance mode/);
  });

  it('triton: config.pbtxt from the model signature parses against model_config.proto, with the model in its version folder', async () => {
    const dir = await generate('triton');
    const text = await readFile(path.join(dir, 'model_repository', 'svc', 'config.pbtxt'), 'utf8');
    // keepCase: field names as the .proto spells them (Triton's text format uses snake_case).
    const { root } = protobuf.parse(
      await readFile(path.join(repoRoot, 'test', 'fixtures', 'triton', 'model_config.proto'), 'utf8'),
      { keepCase: true },
    );
    const type = root.lookupType('inference.ModelConfig');
    const fields = parseTextFormat(text);
    assert.deepEqual(validateAgainst(type, fields), []);
    assert.equal(fields.platform, 'onnxruntime_onnx');
    const inputs = fields.input as Array<{ name: string; data_type: { enum: string } }>;
    assert.ok(inputs.some((input) => input.name === 'input_ids' && input.data_type.enum === 'TYPE_INT64'));
    assert.ok(inputs.some((input) => input.name === 'past_key_values.1.value' && input.data_type.enum === 'TYPE_FP32'));
    assert.deepEqual((fields.instance_group as Array<{ kind: { enum: string } }>)[0]!.kind, { enum: 'KIND_GPU' });
    assert.ok((fields.dynamic_batching as { max_queue_delay_microseconds: number }).max_queue_delay_microseconds > 0);
    assert.deepEqual(await readdir(path.join(dir, 'model_repository', 'svc', '1')), ['model.onnx']);
    // The check can fail: a misspelt field is reported.
    assert.deepEqual(validateAgainst(type, parseTextFormat('max_batch_sise: 4')), [
      'ModelConfig.max_batch_sise: no such field in ModelConfig',
    ]);
  });

  it('the same inputs give byte-identical projects', async () => {
    const a = await generate('vllm', ['--model', 'acme/m']);
    const b = await generate('vllm', ['--model', 'acme/m']);
    for (const file of ['compose.yaml', 'llmops.yaml', 'README.md', 'Dockerfile'])
      assert.equal(await readFile(path.join(a, file), 'utf8'), await readFile(path.join(b, file), 'utf8'));
  });
});
