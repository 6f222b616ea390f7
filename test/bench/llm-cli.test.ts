import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { benchEngine } from '../../src/bench/engine/run.js';
import type { LlmBenchResult } from '../../src/bench/engine/types.js';
import { defaultThreadCount } from '../../src/engine/cpu-threads.js';
import { readOnnxOutputNames } from '../../src/engine/onnx-outputs.js';
import { isPresentOutput } from '../../src/engine/signature.js';
import { llmops } from './cli.js';
import { writeDecoderFixture } from './decoder-fixture.js';
import { mlpModel } from './onnx-writer.js';
import { tempDir } from '../helpers/temp-dir.js';

let root: string;
let decoder: string;

before(async () => {
  root = await tempDir('llmops-bench-llm-');
  decoder = await writeDecoderFixture(path.join(root, 'decoder'), { contextLength: 64 });
});

describe('LLM bench of a decoder with KV cache', () => {
  it('measures each batch × prompt length and prints the versioned JSON schema', async () => {
    const run = await llmops([
      'bench',
      decoder,
      '--batch',
      '1,2',
      '--prompt-tokens',
      '8,16',
      '--gen-tokens',
      '4',
      '--iterations',
      '2',
      '--gpu-price',
      '2.5',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as LlmBenchResult;
    assert.equal(result.schemaVersion, 1);
    assert.equal(result.kind, 'engine');
    assert.equal(result.mode, 'llm');
    assert.equal(result.model, decoder);
    assert.equal(result.provider, 'cpu');
    assert.equal(result.inputs, 'text');
    assert.ok(result.loadMs! > 0);
    assert.ok(result.hardware.cores > 0 && result.hardware.cpu.length > 0);
    assert.deepEqual(
      result.results.map((row) => [row.batch, row.promptTokens, row.genTokens]),
      [
        [1, 8, 4],
        [2, 8, 4],
        [1, 16, 4],
        [2, 16, 4],
      ],
    );
    for (const row of result.results) {
      for (const key of [
        'batch',
        'promptTokens',
        'genTokens',
        'ttftMs',
        'tpotMs',
        'decodeTokensPerSecond',
        'throughputTokensPerSecond',
        'peakRssMb',
        'costPerMillionTokens',
      ]) {
        assert.ok(key in row, `result lacks ${key}`);
      }
      assert.deepEqual(Object.keys(row.ttftMs), ['p50', 'p90', 'p95', 'p99', 'mean', 'max']);
      assert.deepEqual(Object.keys(row.tpotMs), ['p50', 'p90', 'p95', 'p99', 'mean', 'max']);
      assert.equal(row.stats.ttftMs.count, 2);
      assert.equal(row.stats.tpotMs.count, 2 * 3);
      assert.equal(row.warmup.iterations, 1);
      assert.ok(row.decodeTokensPerSecond > 0 && row.throughputTokensPerSecond > 0);
      assert.equal(
        row.costPerMillionTokens,
        Number(((2.5 / (row.throughputTokensPerSecond * 3600)) * 1e6).toPrecision(4)),
      );
    }
  });

  it('uses synthetic ids when asked, and the same code path through the library', async () => {
    const result = (await benchEngine({
      target: decoder,
      promptTokens: [4],
      genTokens: 2,
      iterations: 1,
      warmup: 0,
      inputs: 'synthetic',
    })) as LlmBenchResult;
    assert.equal(result.inputs, 'synthetic');
    assert.equal(result.results[0]!.iterations, 1);
    assert.equal(result.results[0]!.warmup.iterations, 0);
  });

  it('runs the measured loop in a worker: progress and an abort cross to it, errors come back with their code', async () => {
    const events: string[] = [];
    const controller = new AbortController();
    const running = benchEngine({
      target: decoder,
      promptTokens: [4],
      genTokens: 4,
      durationMs: 60_000,
      signal: controller.signal,
      onProgress: (event) => {
        events.push(event.phase);
        if (event.phase === 'measure' && event.done === 3) controller.abort();
      },
    });
    await assert.rejects(
      running,
      (error: Error & { code?: string; exitCode?: number }) => error.code === 'INTERRUPTED' && error.exitCode === 130,
    );
    assert.ok(events.includes('load') && events.includes('warmup') && events.includes('measure'), events.join());
    await assert.rejects(
      benchEngine({ target: decoder, promptTokens: [60], genTokens: 8 }),
      (error: Error & { code?: string; exitCode?: number }) =>
        error.code === 'CONTEXT_TOO_LONG' && error.exitCode === 2,
    );
  });

  it('reports the KV cache path: in-place by default, preallocated when asked, in JSON, table and CSV', async () => {
    const base = ['bench', decoder, '--prompt-tokens', '8', '--gen-tokens', '4', '--iterations', '1'];
    const byDefault = JSON.parse((await llmops([...base, '--json'])).stdout) as LlmBenchResult;
    assert.equal(byDefault.kvCache, 'in-place', 'the default for a concatenating export the engine can rewrite');
    assert.equal(byDefault.kvCacheFallback, null);
    assert.equal(byDefault.presentsPerStep, 0, 'attention reads the past where it lies: no present is built');
    assert.equal(byDefault.logitsPositions, 'last', 'the head runs for the sampled position only, on every KV path');
    assert.equal(byDefault.threads, defaultThreadCount(), 'the threads it ran with, not null for "default"');
    const pre = JSON.parse((await llmops([...base, '--kv-cache', 'preallocated', '--json'])).stdout) as LlmBenchResult;
    assert.equal(pre.kvCache, 'preallocated');
    assert.equal(pre.kvCacheFallback, null);
    const presents = readOnnxOutputNames(path.join(decoder, 'model.onnx')).filter(isPresentOutput).length;
    assert.ok(presents > 0);
    assert.equal(pre.presentsPerStep, presents, "every layer's keys and values, fetched each step");
    assert.equal(pre.logitsPositions, 'last');
    const one = JSON.parse((await llmops([...base, '--threads', '1', '--json'])).stdout) as LlmBenchResult;
    assert.equal(one.threads, 1);
    const table = await llmops([...base, '--kv-cache', 'preallocated']);
    assert.match(
      table.stdout,
      new RegExp(
        `^kv cache preallocated, ${presents} presents built per step · logits of the last position only · prefill whole prompts$`,
        'm',
      ),
    );
    const bad = await llmops([...base, '--kv-cache', 'paged']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--kv-cache.*paged/);
  });

  it('--prefill-chunk-tokens prefills in steps of that many tokens per row and reports the step split', async () => {
    const base = ['bench', decoder, '--prompt-tokens', '10', '--gen-tokens', '3', '--iterations', '2', '--batch', '2'];
    const whole = JSON.parse((await llmops([...base, '--json'])).stdout) as LlmBenchResult;
    assert.equal(whole.prefillChunkTokens, null);
    assert.equal(whole.results[0]!.prefillSteps, 1);
    const chunked = JSON.parse(
      (await llmops([...base, '--prefill-chunk-tokens', '4', '--json'])).stdout,
    ) as LlmBenchResult;
    assert.equal(chunked.prefillChunkTokens, 4);
    const row = chunked.results[0]!;
    // 10 tokens in chunks of 4: 4 + 4 + 2.
    assert.equal(row.prefillSteps, 3);
    assert.ok(row.prefillStepMs.p50 > 0 && row.prefillStepMs.p50 <= row.ttftMs.max, JSON.stringify(row.prefillStepMs));
    const table = await llmops([...base, '--prefill-chunk-tokens', '4']);
    assert.match(table.stdout, /prefill in chunks of 4 tokens per row/);
    assert.match(table.stdout, /prefill steps/);
    const bad = await llmops([...base, '--prefill-chunk-tokens', '0']);
    assert.equal(bad.code, 2);
  });

  it('detects the decoder from a .onnx file inside a model directory', async () => {
    const result = await benchEngine({
      target: path.join(decoder, 'model.onnx'),
      promptTokens: [4],
      genTokens: 2,
      iterations: 1,
    });
    assert.equal(result.mode, 'llm');
  });

  it('benches a non-decoder with config.json and tokenizer.json generically', async () => {
    const dir = path.join(root, 'encoder');
    await writeDecoderFixture(dir);
    await writeFile(path.join(dir, 'model.onnx'), mlpModel());
    const result = await benchEngine({ target: dir, shapes: { batch: 2 }, iterations: 3, warmup: 0 });
    assert.equal(result.mode, 'generic');
  });

  it('refuses prompt + generated tokens beyond the context length (exit 2)', async () => {
    const run = await llmops(['bench', decoder, '--prompt-tokens', '60', '--gen-tokens', '8']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /prompt \+ generated tokens \(68\) exceed the model's context of 64 positions/);
  });

  it('writes CSV with one row per configuration', async () => {
    const csv = path.join(root, 'llm.csv');
    const run = await llmops([
      'bench',
      decoder,
      '--batch',
      '1,3',
      '--prompt-tokens',
      '8',
      '--gen-tokens',
      '3',
      '--iterations',
      '1',
      '--csv',
      csv,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const lines = (await readFile(csv, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(
      lines[0]!,
      /^model,mode,provider,threads,spin_wait,load_ms,batch,prompt_tokens,gen_tokens,iterations,ttft_p50_ms,.*,decode_tokens_per_second,throughput_tokens_per_second,peak_rss_mb,peak_gpu_memory_mb,cost_per_million_tokens,warmup_iterations,kv_cache,presents_per_step,logits_positions$/,
    );
    assert.match(lines[2]!, new RegExp(`,llm,cpu,${defaultThreadCount()},true,[\\d.]+,3,8,3,1,.*,in-place,0,last$`));
    assert.match(run.stdout, /TTFT p50 ms/);
  });

  it('benches the embedded tiny model when no target is given', async () => {
    const cache = await tempDir('llmops-bench-cache-');
    const run = await llmops(['bench', '--prompt-tokens', '16', '--gen-tokens', '4', '--iterations', '2', '--json'], {
      cwd: root,
      env: { LLMOPS_CACHE_DIR: cache },
    });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as LlmBenchResult;
    assert.equal(result.model, 'embedded:tiny');
    assert.equal(result.mode, 'llm');
    assert.equal(result.results[0]!.stats.tpotMs.count, 2 * 3);
  });

  it('takes the model from a compile artifact directory', async () => {
    const artifact = path.join(root, 'artifact');
    await writeDecoderFixture(artifact);
    await writeFile(path.join(artifact, 'llmops.json'), JSON.stringify({ backend: 'ort' }));
    await copyFile(path.join(decoder, 'model.onnx'), path.join(artifact, 'model.onnx'));
    const result = await benchEngine({ target: artifact, promptTokens: [4], genTokens: 2, iterations: 1 });
    assert.equal(result.mode, 'llm');
  });
});
