// The WebGPU provider that ships inside onnxruntime-node (Dawn over Vulkan): the KV cache stays in GPU memory between
// steps, so the engine must name those outputs before the session exists. Where no WebGPU adapter exists (CI), the
// provider must fail with a one-line error that says what is missing; where one does (a GPU machine with a Vulkan
// driver), greedy decoding must give PyTorch's tokens on every reference fixture.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { CausalLM, loadOrt } from '../../src/engine/index.js';
import { readOnnxOutputNames } from '../../src/engine/onnx-outputs.js';
import { isLlmopsError } from '../../src/errors.js';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { CONCAT_VARIANTS as VARIANTS, fixtureDir, readExpected, withTempDir } from '../helpers/reference.js';

describe('ONNX output names read from the file', () => {
  test('equal what ONNX Runtime reports, for external-data and embedded-weight models', async () => {
    const ort = await loadOrt();
    const models = [
      ...VARIANTS.map((variant) => join(fixtureDir(variant), 'model.onnx')),
      join(await ensureTinyModel(), 'model.onnx'),
    ];
    for (const model of models) {
      const session = await ort.InferenceSession.create(model);
      try {
        assert.deepEqual(readOnnxOutputNames(model), session.outputNames, model);
      } finally {
        await session.release();
      }
    }
  });

  test('a file that is not protobuf is an error, not a wrong answer', async () => {
    await withTempDir(async (dir) => {
      const bogus = join(dir, 'model.onnx');
      await writeFile(bogus, Buffer.from([0x0f, 0xff, 0xff, 0xff]));
      assert.throws(() => readOnnxOutputNames(bogus), /not an ONNX model/);
    });
  });
});

describe('webgpu provider', () => {
  let adapterError: unknown = null;
  before(async () => {
    try {
      const lm = await CausalLM.load({ dir: fixtureDir('gpt2-nopos'), provider: 'webgpu' });
      await lm.dispose();
    } catch (error) {
      adapterError = error;
    }
  });

  test('without a WebGPU adapter: a one-line provider error that names what is missing', (t) => {
    if (!adapterError) return t.skip('this machine has a WebGPU adapter');
    assert.ok(isLlmopsError(adapterError), inspect(adapterError));
    assert.equal(adapterError.code, 'PROVIDER_FAILED');
    assert.match(adapterError.message, /could not start the webgpu execution provider/);
    assert.doesNotMatch(adapterError.message, /\n/);
    assert.match(adapterError.hint ?? '', /Vulkan/);
  });

  for (const variant of VARIANTS) {
    test(`with an adapter: greedy ids equal PyTorch's with the KV cache in GPU memory, ${variant}`, async (t) => {
      if (adapterError) return t.skip(`no WebGPU adapter here (${(adapterError as Error).message.slice(0, 80)}…)`);
      const expected = await readExpected(variant);
      const lm = await CausalLM.load({ dir: fixtureDir(variant), provider: 'webgpu', kvCache: 'preallocated' });
      try {
        assert.equal(lm.kvOnDevice, true);
        assert.equal(lm.kvCache, 'naive', 'pre-allocated host buffers are refused for a device cache');
        for (const c of expected.cases) {
          const generation = await lm.generate(c.promptIds, { maxTokens: expected.maxNewTokens, temperature: 0 });
          assert.deepEqual(generation.tokenIds, c.generatedIds, `case ${c.name}`);
        }
        const state = await lm.prefill([expected.cases[0]!.promptIds]);
        await lm.decode(state, [expected.cases[0]!.generatedIds[0]!]);
        assert.equal([...state.past.values()][0]!.location, 'gpu-buffer');
        assert.throws(
          () => lm.concatStates(state, state),
          (error) => isLlmopsError(error) && error.code === 'KV_ON_DEVICE',
        );
        lm.releaseState(state);
      } finally {
        await lm.dispose();
      }
    });
  }
});
