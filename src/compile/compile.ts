import { readFile, stat, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { InterruptedError, usageError } from '../errors.js';
import { buildDirAtomically } from '../fs/atomic.js';
import type { ModelConfig } from '../engine/model-files.js';
import { BACKENDS } from './backends/index.js';
import { describeFiles, MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, type ArtifactManifest } from '../artifact/manifest.js';
import type { BackendContext, CompileOptions, CompileResult, CompileStep, Precision } from './types.js';
import { readValueInfos } from '../engine/signature.js';

const DEFAULT_TASK = 'text-generation-with-past';

/**
 * Compiles a model with one backend into an artifact directory with an llmops.json manifest. The output appears
 * whole or not at all: everything is written in a temp dir beside it and renamed into place.
 */
export async function compile(options: CompileOptions): Promise<CompileResult> {
  const backend = BACKENDS[options.backend];
  if (!backend)
    throw usageError(
      `unknown backend \`${options.backend}\`; use one of ${Object.keys(BACKENDS).join(', ')}`,
      'UNKNOWN_BACKEND',
    );
  const gpuBackend = options.backend === 'tensorrt' || options.backend === 'tensorrt-llm';
  const device = options.device ?? (gpuBackend ? 'cuda' : 'cpu');
  const precision: Precision = options.precision ?? (gpuBackend || device === 'cuda' ? 'fp16' : 'fp32');
  const task = options.task ?? DEFAULT_TASK;
  const name = options.name ?? 'llmops-model';
  const out = path.resolve(options.out ?? path.join('artifacts', `${name}-${options.backend}`));
  const resolved = { ...options, device, precision, task };

  const existing = await stat(out).catch(() => null);
  if (existing && !options.force && !options.dryRun) {
    throw usageError(`output ${out} already exists`, 'OUTPUT_EXISTS', {
      hint: 'pass --force to replace it, or choose another --out',
    });
  }

  const source = await resolveSource(options);
  const config = await readConfig(source.dir);
  // A dry run of a Hub model has not downloaded config.json: the architecture is checked when it really runs.
  const reason = source.notDownloaded ? null : backend.unsupported(config, resolved);
  if (reason)
    throw usageError(`the ${options.backend} backend cannot build ${source.label}: ${reason}`, 'UNSUPPORTED_MODEL');

  if (options.dryRun) {
    const context: BackendContext = {
      options: resolved,
      sourceDir: source.dir,
      config,
      workDir: path.join(path.dirname(out), `.${path.basename(out)}.tmp`),
      outDir: out,
    };
    const steps = await backend.plan(context);
    return {
      out,
      backend: backend.name,
      dryRun: true,
      steps: steps.map(describeStep),
      manifest: null,
      warnings: source.warnings,
    };
  }

  let compiled: CompileResult | undefined;
  // Built in a work directory beside `out` and renamed into place: a failed or interrupted compile leaves no artifact.
  await buildDirAtomically(
    out,
    async (workDir) => {
      const context: BackendContext = { options: resolved, sourceDir: source.dir, config, workDir, outDir: out };
      const steps = await backend.plan(context);
      const result = await backend.run(context);
      if (options.signal?.aborted) throw new InterruptedError();
      const files = await describeFiles(workDir);
      const manifest: ArtifactManifest = {
        schemaVersion: MANIFEST_SCHEMA_VERSION,
        name,
        source: { model: source.label, revision: source.revision, commit: source.commit },
        backend: backend.name,
        task,
        precision,
        options: result.options,
        files,
        io: await readIo(workDir),
        tools: { llmops: await llmopsVersion(), ...result.tools },
        hardware: result.hardware,
        validation: result.validation,
        command: options.command ?? [],
        createdAt: new Date().toISOString(),
      };
      await writeFile(path.join(workDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      compiled = {
        out,
        backend: backend.name,
        dryRun: false,
        steps: steps.map(describeStep),
        manifest,
        warnings: [...source.warnings, ...result.warnings],
      };
    },
    { existing: existing ? 'replace' : 'refuse' },
  );
  return compiled!;
}

function describeStep(step: CompileStep): { name: string; argv: string[] } {
  if (step.kind === 'internal') return { name: step.name, argv: [] };
  return { name: step.name, argv: [step.plan.file, ...step.plan.argv] };
}

interface ResolvedSource {
  dir: string;
  label: string;
  revision: string | null;
  commit: string | null;
  warnings: string[];
  /** A dry run of a Hub model: nothing is downloaded, so config.json is unknown. */
  notDownloaded?: boolean;
}

async function resolveSource(options: CompileOptions): Promise<ResolvedSource> {
  if (!options.model) {
    const { ensureTinyModel } = await import('../model/tiny.js');
    return {
      dir: await ensureTinyModel(),
      label: 'llmops/tiny-gpt2 (embedded)',
      revision: null,
      commit: null,
      warnings: [],
    };
  }
  const local = await stat(options.model).catch(() => null);
  if (local?.isDirectory()) {
    const warnings = options.revision
      ? [`--revision ${options.revision} ignored: ${options.model} is a local directory`]
      : [];
    return {
      dir: path.resolve(options.model),
      label: path.resolve(options.model),
      revision: null,
      commit: null,
      warnings,
    };
  }
  if (local) throw usageError(`model ${options.model} is a file; pass its directory`, 'MODEL_NOT_FOUND');
  if (!/^[\w.-]+\/[\w.-]+$/.test(options.model))
    throw usageError(`model ${options.model} is neither a local directory nor a Hub id (org/name)`, 'MODEL_NOT_FOUND');
  if (options.dryRun) {
    // A dry run never touches the network: the plan shows where the snapshot will be.
    const { hubCacheDir, repoFolderName } = await import('../hub/index.js');
    const dir = path.join(
      hubCacheDir(options.hub?.cache),
      repoFolderName(options.model),
      'snapshots',
      `<${options.revision ?? 'main'}>`,
    );
    return {
      dir,
      label: options.model,
      revision: options.revision ?? 'main',
      commit: null,
      warnings: ['dry run: the Hub snapshot is not downloaded'],
      notDownloaded: true,
    };
  }
  const { downloadModel } = await import('../hub/index.js');
  options.onProgress?.(`downloading ${options.model}@${options.revision ?? 'main'}`);
  const downloaded = await downloadModel({
    repo: options.model,
    revision: options.revision,
    endpoint: options.hub?.endpoint,
    token: options.hub?.token,
    cacheDir: options.hub?.cache,
    onProgress: options.onProgress,
  });
  return {
    dir: downloaded.dir,
    label: options.model,
    revision: downloaded.revision,
    commit: downloaded.commit,
    warnings: [],
  };
}

async function readConfig(dir: string): Promise<ModelConfig | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as ModelConfig;
  } catch {
    return null;
  }
}

/** Inputs and outputs of the compiled ONNX graph (engines record theirs in options). */
async function readIo(dir: string): Promise<ArtifactManifest['io']> {
  if (!(await readdir(dir)).includes('model.onnx')) return { inputs: [], outputs: [] };
  const { createSession } = await import('../engine/session.js');
  const session = await createSession(path.join(dir, 'model.onnx'), { graphOptimizationLevel: 'disabled' });
  try {
    return { inputs: readValueInfos(session.inputMetadata), outputs: readValueInfos(session.outputMetadata) };
  } finally {
    await session.release();
  }
}

async function llmopsVersion(): Promise<string> {
  const { createRequire } = await import('node:module');
  return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
}
