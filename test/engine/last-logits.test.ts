import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CausalLM, loadOrt } from '../../src/engine/index.js';
import { LOGITS_INDEX_INPUT, lastLogitsEdit } from '../../src/engine/last-logits.js';
import { readOnnxGraph } from '../../src/engine/onnx-outputs.js';
import { pastNames } from '../../src/engine/decode-state.js';
import { emptyKv } from '../../src/engine/right-padded.js';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { fixtureDir } from '../helpers/reference.js';

describe('logits of the last position only', () => {
  // A head MatMul over a transposed embedding (tiny, weights inside the file), one cast to fp32 (llama-sdpa), and a
  // merged decoder whose logits come out of an If, which the edit leaves alone.
  const models = async () => [
    { name: 'tiny', dir: await ensureTinyModel(), edited: true },
    { name: 'llama-sdpa', dir: fixtureDir('llama-sdpa'), edited: true },
    { name: 'gpt2-merged', dir: fixtureDir('gpt2-merged'), edited: false },
  ];

  it('a prefill computes the head for its last position alone, and its logits equal the whole-sequence ones there', async () => {
    const ort = await loadOrt();
    for (const { name, dir, edited } of await models()) {
      const onnxPath = path.join(dir, 'model.onnx');
      assert.equal(lastLogitsEdit(readOnnxGraph(onnxPath)) !== null, edited, `${name}: the edit applies`);
      const lm = await CausalLM.load({ dir });
      try {
        assert.equal(lm.signature.logitsIndex, edited ? LOGITS_INDEX_INPUT : null, name);
        if (!edited) continue;
        const ids = [5, 17, 3, 42, 8, 11, 29];
        const state = await lm.prefill([ids]);
        const mine = state.lastLogits[0]!;
        lm.releaseState(state);

        // The model as exported, every position's logits: the last row is what the edit must give.
        const plain = await ort.InferenceSession.create(onnxPath);
        const int64 = (values: number[]) =>
          new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
        const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
          input_ids: int64(ids),
          ...(plain.inputNames.includes('attention_mask') ? { attention_mask: int64(ids.map(() => 1)) } : {}),
          ...(plain.inputNames.includes('position_ids') ? { position_ids: int64(ids.map((_, i) => i)) } : {}),
          ...Object.fromEntries(emptyKv(ort, lm.signature, pastNames(lm.signature), 1)),
        };
        const logits = (await plain.run(feeds)).logits!;
        await plain.release();
        const vocab = logits.dims.at(-1)!;
        const data = logits.data as Float32Array;
        const whole = data.subarray((ids.length - 1) * vocab, ids.length * vocab);
        assertClose(mine, whole, name);
      } finally {
        await lm.dispose();
      }
    }
  });

  it('a chunk that samples nothing runs no head, and the last chunk still gets the last logits', async () => {
    for (const { name, dir, edited } of await models()) {
      const lm = await CausalLM.load({ dir });
      // What each run's graph computed, not what the engine kept of it.
      const logitRows: number[] = [];
      const run = lm.session.run.bind(lm.session);
      Object.assign(lm.session, {
        run: async (...args: Parameters<typeof run>) => {
          const outputs = await run(...args);
          logitRows.push(outputs[lm.signature.logits]!.dims[0]!);
          return outputs;
        },
      });
      try {
        const ids = [5, 17, 3, 42, 8, 11, 29];
        const whole = await lm.prefill([ids]);
        logitRows.length = 0;
        let state = await lm.prefillChunk(null, ids.slice(0, 3), { logits: false });
        assert.deepEqual(state.lastLogits, [], name);
        state = await lm.prefillChunk(state, ids.slice(3, 5), { logits: false });
        assert.deepEqual(state.lastLogits, [], name);
        state = await lm.prefillChunk(state, ids.slice(5));
        // The edited graph computes none for the first two chunks; a graph without the edit computes them all.
        assert.deepEqual(logitRows, edited ? [0, 0, 1] : [1, 1, 1], name);
        assertClose(state.lastLogits[0]!, whole.lastLogits[0]!, name);
        lm.releaseState(whole);
        lm.releaseState(state);
      } finally {
        await lm.dispose();
      }
    }
  });
});

function assertClose(mine: Float32Array, reference: Float32Array, name: string): void {
  const scale = Math.max(...reference.map(Math.abs));
  const worst = Math.max(...mine.map((value, i) => Math.abs(value - reference[i]!)));
  assert.equal(mine.length, reference.length, name);
  assert.ok(worst <= 1e-5 * scale + 1e-6, `${name}: max |Δlogit| ${worst} at scale ${scale}`);
}
