import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildTinyModel, ensureTinyModel, TINY_MODEL_SPECS } from '../../src/model/tiny.js';
import { Tokenizer } from '../../src/engine/tokenizer.js';
import { tempDir } from '../helpers/temp-dir.js';

async function digests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out[path.relative(dir, file)] = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  }
  return out;
}

describe('embedded tiny model', () => {
  it('builds deterministically: two builds are byte-identical, another seed differs', async () => {
    const [a, b, c] = [await tempDir('llmops-tiny-'), await tempDir('llmops-tiny-'), await tempDir('llmops-tiny-')];
    const built = await buildTinyModel({ dir: a });
    await buildTinyModel({ dir: b });
    await buildTinyModel({ dir: c, seed: 1 });
    assert.deepEqual(await digests(a), await digests(b));
    assert.notEqual((await digests(a))['model.onnx'], (await digests(c))['model.onnx']);
    assert.deepEqual(built.files, [
      'config.json',
      'generation_config.json',
      'model.onnx',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    assert.ok((await stat(path.join(a, 'model.onnx'))).size < 2_000_000, 'a few MB at most');
  });

  it('writes a GPT-2 config.json and an Optimum-style layout with external data on request', async () => {
    const dir = await tempDir('llmops-tiny-');
    const built = await buildTinyModel({ dir, externalData: true });
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.model_type, 'gpt2');
    assert.deepEqual(config.architectures, ['GPT2LMHeadModel']);
    assert.equal(config.n_layer, TINY_MODEL_SPECS.tiny.layers);
    assert.ok(built.files.includes('model.onnx_data'));
    assert.ok((await stat(path.join(dir, 'model.onnx_data'))).size >= built.parameters * 4);
    const tjs = await tempDir('llmops-tiny-');
    const inOnnx = await buildTinyModel({ dir: tjs, layout: 'transformers.js' });
    assert.ok(inOnnx.files.includes('onnx/model.onnx'));
  });

  it('ships a byte-level BPE tokenizer that tokenizers.js loads and that round-trips any text', async () => {
    const dir = await ensureTinyModel();
    const json = JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')) as object;
    const config = JSON.parse(await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const tokenizer = new Tokenizer(json, config);
    for (const text of [
      'Hello, world!',
      'The model server answers requests.',
      'naïve café — 日本語 😀🚀',
      '  spaces\tand\nnewlines  ',
    ]) {
      const ids = tokenizer.encode(text).ids;
      assert.equal(tokenizer.decode(ids), text);
    }
    assert.ok(tokenizer.encode('the model server').ids.length < 'the model server'.length, 'merges are used');
    const eos = tokenizer.encode('<|endoftext|>').ids;
    assert.equal(eos.length, 1);
    const modelConfig = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as {
      eos_token_id: number;
      vocab_size: number;
    };
    assert.equal(eos[0], modelConfig.eos_token_id);
    assert.equal(modelConfig.vocab_size, modelConfig.eos_token_id + 1);
    assert.equal(typeof config.chat_template, 'string');
  });

  it('ensureTinyModel builds once into the cache, atomically, even when called concurrently', async () => {
    const cacheDir = await tempDir('llmops-tiny-');
    const dirs = await Promise.all([
      ensureTinyModel({ cacheDir }),
      ensureTinyModel({ cacheDir }),
      ensureTinyModel({ cacheDir }),
    ]);
    assert.equal(new Set(dirs).size, 1);
    const models = await readdir(path.join(cacheDir, 'models'));
    assert.deepEqual(models, [path.basename(dirs[0])], 'no temp dirs are left behind');
    const before = (await stat(path.join(dirs[0], 'model.onnx'))).mtimeMs;
    await ensureTinyModel({ cacheDir });
    assert.equal((await stat(path.join(dirs[0], 'model.onnx'))).mtimeMs, before, 'not rebuilt');
  });
});
