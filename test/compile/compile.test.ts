import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { CausalLM } from '../../src/engine/index.js';
import { readArtifact, sha256File, type ArtifactManifest } from '../../src/compile/index.js';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { cliPath, isOneLineError, runCli } from '../helpers/cli.js';
import { installFakeDocker, type FakeDocker } from '../helpers/fake-tools.js';
import { tempDir } from '../helpers/temp-dir.js';

let tiny: string;
before(async () => {
  tiny = await ensureTinyModel();
});

describe('compile --backend ort', () => {
  it('writes an artifact whose model generates the source greedy tokens, with true sha256s', async () => {
    const cwd = await tempDir('llmops-compile-');
    const result = await runCli(['compile', '--model', tiny, '--backend', 'ort', '--out', 'art', '--json'], { cwd });
    assert.equal(result.code, 0, result.stderr);
    const manifest = JSON.parse(result.stdout) as ArtifactManifest;
    assert.equal(manifest.backend, 'ort');
    assert.equal(manifest.validation?.passed, true);
    assert.equal(manifest.hardware.portable, true);
    assert.deepEqual((await readArtifact(path.join(cwd, 'art'), { verify: true }))?.files, manifest.files);
    for (const file of manifest.files) assert.equal(await sha256File(path.join(cwd, 'art', file.path)), file.sha256);
    assert.ok(manifest.io.inputs.some((input) => input.name === 'past_key_values.0.key'));

    const source = await CausalLM.load({ dir: tiny });
    const compiled = await CausalLM.load({ dir: path.join(cwd, 'art') });
    const prompts = ['The model server', 'Once upon a time, a small', 'GPU'];
    for (const prompt of prompts) {
      assert.deepEqual(
        (await compiled.generate(prompt, { maxTokens: 16 })).tokenIds,
        (await source.generate(prompt, { maxTokens: 16 })).tokenIds,
      );
    }
    await source.dispose();
    await compiled.dispose();
    assert.deepEqual((await readdir(cwd)).sort(), ['art'], 'no temp directory is left beside the output');
  });

  it('detects a tampered artifact file', async () => {
    const cwd = await tempDir('llmops-compile-');
    assert.equal((await runCli(['compile', '--model', tiny, '--out', 'art'], { cwd })).code, 0);
    await writeFile(path.join(cwd, 'art', 'tokenizer_config.json'), '{}');
    await assert.rejects(
      readArtifact(path.join(cwd, 'art'), { verify: true }),
      /tokenizer_config\.json does not match its sha256/,
    );
  });

  it('keeps external data external for large models', async () => {
    const cwd = await tempDir('llmops-compile-');
    const model = path.join(cwd, 'external');
    const { buildTinyModel } = await import('../../src/model/tiny.js');
    await buildTinyModel({ dir: model, externalData: true });
    const result = await runCli(['compile', '--model', model, '--out', 'art', '--json'], { cwd });
    assert.equal(result.code, 0, result.stderr);
    const manifest = JSON.parse(result.stdout) as ArtifactManifest;
    assert.ok(manifest.files.some((file) => file.path === 'model.onnx_data'));
    assert.equal(manifest.options.externalData, true);
  });
});

describe('compile: bad input exits 2 and touches nothing', () => {
  const cases: Array<[string, (cwd: string) => Promise<string[]>, RegExp]> = [
    ['an unknown backend', async () => ['--backend', 'tvm'], /argument 'tvm' is invalid/],
    ['a model that does not exist', async () => ['--model', './no/such/dir'], /neither a local directory nor a Hub id/],
    [
      'an architecture the backend cannot handle',
      async (cwd) => {
        const model = path.join(cwd, 'bert');
        await cp(tiny, model, { recursive: true });
        const config = JSON.parse(await readFile(path.join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
        await writeFile(path.join(model, 'config.json'), JSON.stringify({ ...config, model_type: 'bert' }));
        return ['--model', model, '--backend', 'tensorrt-llm'];
      },
      /tensorrt-llm backend cannot build .*no checkpoint converter for model_type bert/,
    ],
    [
      'ort asked for fp16',
      async () => ['--model', tiny, '--precision', 'fp16'],
      /ort backend optimizes the graph as it is \(fp32\)/,
    ],
    [
      'an invalid --optimize level',
      async () => ['--model', tiny, '--optimize', 'O9'],
      /--optimize for the ort backend must be one of/,
    ],
    [
      'malformed --shapes',
      async () => ['--model', tiny, '--backend', 'tensorrt', '--shapes', 'batch=8:4:1', '--dry-run'],
      /MIN <= OPT <= MAX/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const cwd = await tempDir('llmops-compile-');
      const extra = await args(cwd);
      const before = (await readdir(cwd)).sort();
      const result = await runCli(['compile', '--out', 'art', ...extra], { cwd });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.ok(isOneLineError(result.stderr), result.stderr);
      assert.deepEqual((await readdir(cwd)).sort(), before);
    });
  }

  it('an existing --out without --force', async () => {
    const cwd = await tempDir('llmops-compile-');
    await writeFile(path.join(cwd, 'keep.txt'), 'x');
    const result = await runCli(['compile', '--model', tiny, '--out', '.'], { cwd });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /already exists.*--force/);
    assert.deepEqual(await readdir(cwd), ['keep.txt']);
  });
});

// Flags these tools document (optimum 1.24 `optimum-cli export onnx --help`; TensorRT 10 `trtexec --help`;
// TensorRT-LLM 0.20 `trtllm-build --help` and convert_checkpoint.py).
const OPTIMUM_FLAGS = new Set([
  '--model',
  '--task',
  '--opset',
  '--device',
  '--dtype',
  '--optimize',
  '--monolith',
  '--no-post-process',
  '--trust-remote-code',
  '--framework',
  '--atol',
  '--cache_dir',
  '--pad_token_id',
  '--library-name',
]);
const TRTEXEC_FLAGS = new Set([
  '--onnx',
  '--saveEngine',
  '--minShapes',
  '--optShapes',
  '--maxShapes',
  '--fp16',
  '--bf16',
  '--int8',
  '--best',
  '--stronglyTyped',
  '--timingCacheFile',
  '--memPoolSize',
  '--skipInference',
  '--builderOptimizationLevel',
  '--verbose',
]);
const TRTLLM_BUILD_FLAGS = new Set([
  '--checkpoint_dir',
  '--output_dir',
  '--gemm_plugin',
  '--max_batch_size',
  '--max_input_len',
  '--max_seq_len',
  '--max_num_tokens',
]);
const CONVERT_FLAGS = new Set(['--model_dir', '--output_dir', '--dtype', '--tp_size', '--pp_size']);

function flagsOf(argv: string[]): string[] {
  return argv.filter((arg) => arg.startsWith('--')).map((arg) => arg.split('=')[0]!);
}

function containerCommand(argv: string[]): string[] {
  // docker run [options] IMAGE COMMAND…: options with values are skipped in pairs.
  const valued = new Set(['--name', '--user', '--gpus', '-v', '-e', '-w', '--entrypoint', '--shm-size', '--ipc']);
  let i = 2;
  while (i < argv.length && argv[i]!.startsWith('-')) i += valued.has(argv[i]!) ? 2 : 1;
  return argv.slice(i + 1);
}

describe('compile --dry-run', () => {
  async function plan(
    args: string[],
  ): Promise<{ backend: string; steps: Array<{ name: string; argv: string[] }>; out: string }> {
    const cwd = await tempDir('llmops-compile-');
    const result = await runCli(['compile', '--model', tiny, '--dry-run', '--json', '--out', 'art', ...args], {
      cwd,
      env: { PATH: '/usr/bin:/bin' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await readdir(cwd), [], 'a dry run writes nothing');
    return JSON.parse(result.stdout) as {
      backend: string;
      steps: Array<{ name: string; argv: string[] }>;
      out: string;
    };
  }

  it('optimum: only flags optimum-cli export onnx defines, the source mounted read-only', async () => {
    const { steps } = await plan(['--backend', 'optimum', '--image', 'python:3.11-slim-bookworm']);
    assert.equal(steps.length, 1);
    const argv = steps[0]!.argv;
    assert.equal(argv[0], 'docker');
    assert.ok(argv.includes(`${tiny}:/model:ro`));
    const cli = containerCommand(argv);
    const exportArgs = cli.slice(cli.indexOf('optimum-cli') + 1);
    assert.deepEqual(exportArgs.slice(0, 2), ['export', 'onnx']);
    for (const flag of flagsOf(exportArgs)) assert.ok(OPTIMUM_FLAGS.has(flag), `optimum-cli has no ${flag}`);
    assert.deepEqual(exportArgs.slice(exportArgs.indexOf('--task'), exportArgs.indexOf('--task') + 2), [
      '--task',
      'text-generation-with-past',
    ]);
  });

  it('tensorrt: trtexec flags per TensorRT 10, profiles for every KV input from config.json', async () => {
    const { steps } = await plan(['--backend', 'tensorrt', '--shapes', 'batch=1:2:4']);
    const build = steps.find((step) => step.name === 'trtexec-build')!;
    const trtexec = containerCommand(build.argv);
    assert.equal(trtexec[0], 'trtexec');
    for (const flag of flagsOf(trtexec)) assert.ok(TRTEXEC_FLAGS.has(flag), `trtexec has no ${flag}`);
    assert.ok(trtexec.includes('--fp16'));
    const min = trtexec.find((arg) => arg.startsWith('--minShapes='))!;
    const max = trtexec.find((arg) => arg.startsWith('--maxShapes='))!;
    assert.match(min, /input_ids:1x1,attention_mask:1x1,position_ids:1x1,past_key_values\.0\.key:1x4x0x16/);
    assert.match(max, /attention_mask:4x256,.*past_key_values\.1\.value:4x4x128x16/);
    assert.ok(build.argv.includes('--gpus'));
  });

  it('tensorrt-llm: convert_checkpoint.py and trtllm-build flags', async () => {
    const { steps } = await plan(['--backend', 'tensorrt-llm']);
    assert.deepEqual(
      steps.map((step) => step.name),
      ['trtllm-convert', 'trtllm-build'],
    );
    const convert = containerCommand(steps[0]!.argv);
    assert.match(convert[1]!, /examples\/models\/core\/gpt\/convert_checkpoint\.py$/);
    for (const flag of flagsOf(convert)) assert.ok(CONVERT_FLAGS.has(flag), `convert_checkpoint.py has no ${flag}`);
    for (const flag of flagsOf(containerCommand(steps[1]!.argv)))
      assert.ok(TRTLLM_BUILD_FLAGS.has(flag), `trtllm-build has no ${flag}`);
  });

  it('is deterministic and prints pasteable commands without --json', async () => {
    const cwd = await tempDir('llmops-compile-');
    const args = ['compile', '--model', tiny, '--backend', 'tensorrt', '--dry-run', '--out', 'art'];
    const first = await runCli(args, { cwd });
    const second = await runCli(args, { cwd });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, second.stdout);
    assert.match(first.stdout, /^docker run --rm --name llmops-trtexec-build-[0-9a-f]{10} /m);
  });

  it('the docker run argv is accepted by the real docker client (it gets as far as connecting to the daemon)', async (t) => {
    const { which } = await import('../../src/proc/exec.js');
    const docker = await which('docker');
    if (!docker) return t.skip('docker client not installed (apt-get install docker.io, or the docker CLI)');
    const { steps } = await plan(['--backend', 'tensorrt']);
    const socketDir = await tempDir('llmops-nodocker-');
    for (const step of steps) {
      const stderr = await new Promise<string>((resolve) => {
        const child = spawn(docker, step.argv.slice(1), {
          env: { ...process.env, DOCKER_HOST: `unix://${socketDir}/absent.sock` },
        });
        let err = '';
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('close', () => resolve(err));
      });
      assert.doesNotMatch(stderr, /unknown flag|unknown shorthand|invalid argument|flag needs an argument/i, stderr);
      assert.match(stderr, /Cannot connect to the Docker daemon|connect: no such file|dial unix/i, stderr);
    }
    // And the check can fail: a bad flag is rejected before any connection.
    const bad = await new Promise<string>((resolve) => {
      const child = spawn(docker, ['run', '--no-such-flag', 'image'], {
        env: { ...process.env, DOCKER_HOST: `unix://${socketDir}/absent.sock` },
      });
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.on('close', () => resolve(err));
    });
    assert.match(bad, /unknown flag/);
  });
});

describe('compile with a fake docker on PATH', () => {
  let docker: FakeDocker;
  before(async () => {
    docker = await installFakeDocker();
  });

  it('tensorrt success: records the GPU, TensorRT version and image; the user owns the output', async () => {
    const cwd = await tempDir('llmops-compile-');
    const result = await runCli(['compile', '--model', tiny, '--backend', 'tensorrt', '--out', 'engine', '--json'], {
      cwd,
      env: docker.env('ok'),
    });
    assert.equal(result.code, 0, result.stderr);
    const manifest = JSON.parse(result.stdout) as ArtifactManifest;
    assert.equal(manifest.tools.tensorrt, '10.8.0');
    assert.equal(manifest.hardware.gpu?.name, 'NVIDIA L4');
    assert.equal(manifest.hardware.gpu?.computeCapability, '8.9');
    assert.equal(manifest.hardware.portable, false);
    assert.ok(manifest.files.some((file) => file.path === 'model.plan'));
    const runs = (await docker.calls()).filter((argv) => argv[0] === 'run');
    for (const argv of runs) {
      assert.equal(argv[argv.indexOf('--user') + 1], `${process.getuid!()}:${process.getgid!()}`);
      assert.ok(argv.includes('--rm'));
    }
  });

  it('optimum success validates the export in the engine; an accuracy warning fails the build', async () => {
    const cwd = await tempDir('llmops-compile-');
    const env = docker.env('ok', { FAKE_EXPORT_FROM: tiny });
    const ok = await runCli(
      [
        'compile',
        '--model',
        tiny,
        '--backend',
        'optimum',
        '--image',
        'python:3.11-slim-bookworm',
        '--out',
        'onnx',
        '--json',
      ],
      { cwd, env },
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as ArtifactManifest).tools.optimum, '1.24.0');
    const bad = await runCli(
      ['compile', '--model', tiny, '--backend', 'optimum', '--image', 'python:3.11-slim-bookworm', '--out', 'bad'],
      { cwd, env: docker.env('accuracy', { FAKE_EXPORT_FROM: tiny }) },
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /does not match the PyTorch model: .*not within the set tolerance/);
    assert.ok(!(await readdir(cwd)).includes('bad'));
  });

  const failures: Array<[string, RegExp]> = [
    ['no-gpu', /Docker cannot give the container a GPU \(NVIDIA Container Toolkit missing or no GPU\)/],
    ['oom', /ran out of memory \(exit 137\)/],
    ['fail', /exited with code 1: .*something inside the container failed/],
  ];
  for (const [mode, message] of failures) {
    it(`${mode}: one clear line, exit 1, no partial artifact`, async () => {
      const cwd = await tempDir('llmops-compile-');
      const result = await runCli(['compile', '--model', tiny, '--backend', 'tensorrt', '--out', 'engine'], {
        cwd,
        env: docker.env(mode),
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, message);
      assert.ok(isOneLineError(result.stderr), result.stderr);
      assert.deepEqual(await readdir(cwd), [], 'neither the output nor its temp dir remains');
    });
  }

  it('SIGINT removes the running container and leaves nothing behind (exit 130)', async () => {
    const cwd = await tempDir('llmops-compile-');
    await writeFile(docker.log, '');
    const child = spawn(
      process.execPath,
      [cliPath, 'compile', '--model', tiny, '--backend', 'tensorrt', '--out', 'engine'],
      { cwd, env: { ...process.env, ...docker.env('hang') } },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Wait until the build container is running.
    for (let i = 0; i < 100; i += 1) {
      if ((await docker.calls()).some((argv) => argv[0] === 'run')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, stderr);
    const calls = await docker.calls();
    const run = calls.filter((argv) => argv[0] === 'run').pop()!;
    const name = run[run.indexOf('--name') + 1];
    assert.ok(
      calls.some((argv) => argv[0] === 'rm' && argv.includes('-f') && argv.includes(name!)),
      'docker rm -f <container> was called',
    );
    assert.deepEqual(await readdir(cwd), []);
  });
});

describe('compile validation', () => {
  it('fails a compiled model whose logits differ from the source', async () => {
    const { compareWithSource } = await import('../../src/compile/validate.js');
    const { buildTinyModel } = await import('../../src/model/tiny.js');
    const other = await tempDir('llmops-compile-');
    await buildTinyModel({ dir: other, seed: 7 });
    const same = await compareWithSource(tiny, tiny);
    assert.equal(same.passed, true);
    // The source loads unoptimized and the compiled model fully optimized: fused kernels may round differently.
    assert.ok(same.maxAbsDiff < 1e-5, `max |Δ| ${same.maxAbsDiff}`);
    const different = await compareWithSource(tiny, other);
    assert.equal(different.passed, false);
    assert.ok(different.maxAbsDiff > different.tolerance);
  });

  it('the tolerance scales with the logits: fp32-sized differences pass at any scale, a few percent of the scale fails', async () => {
    const { compareLogits, DEFAULT_LOGITS_TOLERANCE } = await import('../../src/compile/validate.js');
    const row = (scale: number) => Float32Array.from({ length: 64 }, (_, i) => scale * Math.sin(i * 1.7));
    const shifted = (values: Float32Array, delta: number) =>
      values.map((value, i) => (i === 5 ? value + delta : value));
    // What the issue measured on an 86M PyTorch export: |Δ| 0.04 on logits in the tens.
    const large = row(40);
    assert.equal(compareLogits(large, shifted(large, 0.04)).within, true);
    assert.equal(compareLogits(large, shifted(large, 1.2)).within, false, '3% of the scale is a changed function');
    // Small logits keep an absolute floor, as before.
    const small = row(0.1);
    assert.equal(compareLogits(small, shifted(small, 5e-4)).within, true);
    assert.equal(compareLogits(small, shifted(small, 5e-3)).within, false);
    assert.equal(compareLogits(large, shifted(large, Number.NaN)).within, false, 'NaN fails');
    assert.equal(compareLogits(large, large.subarray(1)).within, false, 'a different vocabulary fails');
    assert.equal(
      compareLogits(large, large).bound,
      DEFAULT_LOGITS_TOLERANCE.atol + DEFAULT_LOGITS_TOLERANCE.rtol * Math.max(...large.map(Math.abs)),
    );
  });

  it('fails a graph whose weights were perturbed by 3% even when the greedy tokens still match', async () => {
    const { compareWithSource } = await import('../../src/compile/validate.js');
    const { buildTinyModel } = await import('../../src/model/tiny.js');
    const source = await tempDir('llmops-compile-');
    await buildTinyModel({ dir: source, externalData: true });
    const perturbed = await tempDir('llmops-compile-');
    await cp(source, perturbed, { recursive: true });
    const dataPath = path.join(perturbed, 'model.onnx_data');
    const bytes = await readFile(dataPath);
    const weights = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    // A fixed pseudo-random ±3% on every weight: the function changes, its greedy choices mostly do not.
    for (let i = 0; i < weights.length; i += 1) weights[i] = weights[i]! * (1 + 0.03 * Math.sin(i * 12.9898));
    await writeFile(dataPath, bytes);
    const result = await compareWithSource(source, perturbed);
    assert.equal(result.passed, false);
    assert.ok(result.maxAbsDiff > result.tolerance, JSON.stringify(result));
    assert.equal(result.greedyMatch, true, 'the tolerance, not the greedy check, caught it');
  });
});

describe('compile --backend ort on PyTorch exports with realistic weights', () => {
  // Exported by Debian's PyTorch (scripts/reference/export_sized_model.py): the tests skip where it is not installed.
  const python = '/usr/bin/python3';
  async function torchAvailable(): Promise<boolean> {
    const { execa } = await import('execa');
    const result = await execa(python, ['-c', 'import torch, onnx'], { reject: false });
    return result.exitCode === 0;
  }
  const sizes: Array<[string, string[]]> = [
    ['~11M (6 × 384)', ['--layers', '6', '--hidden', '384', '--heads', '6', '--positions', '512']],
    [
      '~30M (6 × 640)',
      [
        '--layers',
        '6',
        '--hidden',
        '640',
        '--heads',
        '10',
        '--positions',
        '512',
        '--residual-scale',
        '5',
        '--outlier-dims',
        '4',
        '--outlier-value',
        '300',
      ],
    ],
  ];
  for (const [name, args] of sizes) {
    it(`compiles ${name} with default options, the validation recorded`, async (t) => {
      if (!(await torchAvailable()))
        return t.skip(`needs ${python} with torch and onnx (apt-get install python3-torch python3-onnx)`);
      const { execa } = await import('execa');
      const cwd = await tempDir('llmops-compile-');
      const model = path.join(cwd, 'model');
      await execa(python, [path.join(process.cwd(), 'scripts', 'reference', 'export_sized_model.py'), model, ...args]);
      const result = await runCli(['compile', '--model', model, '--backend', 'ort', '--out', 'art', '--json'], { cwd });
      assert.equal(result.code, 0, result.stderr);
      const manifest = JSON.parse(result.stdout) as ArtifactManifest;
      const validation = manifest.validation as unknown as {
        passed: boolean;
        greedyMatch: boolean;
        logitScale: number;
        tolerance: number;
        maxAbsDiff: number;
      };
      assert.equal(validation.passed, true);
      assert.equal(validation.greedyMatch, true);
      assert.ok(validation.logitScale > 5, `logits of realistic scale, got max |logit| ${validation.logitScale}`);
      assert.ok(validation.tolerance > 1e-3 && validation.maxAbsDiff <= validation.tolerance);
    });
  }
});
