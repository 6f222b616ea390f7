import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { peekArtifact } from '../../artifact/manifest.js';
import { usageError } from '../../errors.js';

/** What `llmops bench TARGET` will measure, decided from the path alone (no session is created here). */
export type BenchTarget =
  | { kind: 'llm'; dir: string; shown: string }
  | { kind: 'onnx'; file: string; shown: string }
  | { kind: 'plan'; file: string; shown: string; tensorrtVersion: string | null; image: string | null };

const PLAN_EXTENSIONS = new Set(['.plan', '.engine', '.trt']);

/**
 * Resolves a bench target: an artifact of `llmops compile` (its llmops.json names the backend and files), a causal LM
 * directory (config.json + tokenizer.json + an ONNX graph), a directory with a lone model.onnx, a `.onnx` file, or a
 * TensorRT engine. Anything else is a usage error that says what was expected.
 */
export async function resolveTarget(target: string): Promise<BenchTarget> {
  const absolute = path.resolve(target);
  const info = await stat(absolute).catch(() => null);
  if (!info)
    throw usageError(`bench target ${target} does not exist`, 'MODEL_NOT_FOUND', {
      hint: 'pass a model directory, a .onnx file, a TensorRT .plan, or nothing for the embedded model',
    });

  if (info.isFile()) {
    const extension = path.extname(absolute).toLowerCase();
    if (PLAN_EXTENSIONS.has(extension)) {
      const manifest = await readManifest(path.dirname(absolute));
      return {
        kind: 'plan',
        file: absolute,
        shown: target,
        tensorrtVersion: manifest ? manifestTensorrtVersion(manifest) : null,
        image: manifest ? manifestImage(manifest) : null,
      };
    }
    if (extension === '.onnx') {
      await assertOnnxFile(absolute, target);
      const dir = llmDirOf(absolute);
      if (dir && (await isLlmDir(dir))) return { kind: 'llm', dir, shown: target };
      return { kind: 'onnx', file: absolute, shown: target };
    }
    throw notAModel(target);
  }
  if (!info.isDirectory()) throw notAModel(target);

  const manifest = await readManifest(absolute);
  const names = await readdir(absolute);
  const plans = names.filter((name) => PLAN_EXTENSIONS.has(path.extname(name).toLowerCase())).sort();
  if (
    plans.length > 0 &&
    (manifest === null ||
      (typeof manifest.backend === 'string' && /tensorrt/i.test(manifest.backend)) ||
      !(await hasOnnx(absolute)))
  ) {
    if (plans.length > 1)
      throw usageError(`${target} holds several TensorRT engines (${plans.join(', ')})`, 'AMBIGUOUS_TARGET', {
        hint: `pass one of them: ${path.join(target, plans[0]!)}`,
      });
    return {
      kind: 'plan',
      file: path.join(absolute, plans[0]!),
      shown: target,
      tensorrtVersion: manifest ? manifestTensorrtVersion(manifest) : null,
      image: manifest ? manifestImage(manifest) : null,
    };
  }
  if (await isLlmDir(absolute)) return { kind: 'llm', dir: absolute, shown: target };
  for (const candidate of ['model.onnx', path.join('onnx', 'model.onnx')]) {
    const file = path.join(absolute, candidate);
    if ((await stat(file).catch(() => null))?.isFile()) return { kind: 'onnx', file, shown: target };
  }
  throw notAModel(target);
}

function notAModel(target: string) {
  return usageError(
    `${target} is not a model: expected a model directory, a .onnx file or a TensorRT .plan`,
    'NOT_A_MODEL',
    {
      hint: 'export one with `llmops compile`, or run `llmops bench` with no target for the embedded model',
    },
  );
}

/** The directory a causal LM's ONNX file belongs to (Optimum: beside it; transformers.js: its parent's). */
function llmDirOf(file: string): string | null {
  const dir = path.dirname(file);
  const base = path.basename(file);
  if (!/^(model|decoder_model_merged)\.onnx$/.test(base) && !/^model_[a-z0-9]+\.onnx$/i.test(base)) return null;
  return path.basename(dir) === 'onnx' ? path.dirname(dir) : dir;
}

async function isLlmDir(dir: string): Promise<boolean> {
  const [config, tokenizer] = await Promise.all([
    isFile(path.join(dir, 'config.json')),
    isFile(path.join(dir, 'tokenizer.json')),
  ]);
  return config && tokenizer && (await hasOnnx(dir));
}

async function hasOnnx(dir: string): Promise<boolean> {
  const names = [
    ...(await readdir(dir).catch(() => [] as string[])),
    ...(await readdir(path.join(dir, 'onnx')).catch(() => [] as string[])),
  ];
  return names.some((name) => name.endsWith('.onnx'));
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null))?.isFile() ?? false;
}

/** ONNX files are protobuf: a ModelProto starts with field 1 (ir_version, varint) — cheap to check before ONNX Runtime complains. */
async function assertOnnxFile(file: string, shown: string): Promise<void> {
  const handle = await import('node:fs/promises').then((fs) => fs.open(file, 'r'));
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    if (bytesRead < 2 || buffer[0] !== 0x08) {
      throw usageError(`${shown} is not an ONNX model (it does not start with an ONNX ModelProto)`, 'NOT_A_MODEL', {
        hint: 're-export the model or check the path',
      });
    }
  } finally {
    await handle.close();
  }
}

/** The llmops.json manifest of a compile artifact, or null when there is none. */
export async function readManifest(dir: string): Promise<Record<string, unknown> | null> {
  return await peekArtifact(dir);
}

/**
 * The TensorRT version an engine was built with, as the compile manifest records it. Looked up under the few names
 * a tool-versions map uses (`tools.tensorrt`, `toolVersions.tensorrt`, `tensorrtVersion`).
 */
export function manifestTensorrtVersion(manifest: Record<string, unknown>): string | null {
  const candidates: unknown[] = [manifest.tensorrtVersion];
  for (const key of ['tools', 'toolVersions', 'versions']) {
    const map = manifest[key];
    if (map && typeof map === 'object') {
      const entry =
        (map as Record<string, unknown>).tensorrt ??
        (map as Record<string, unknown>).TensorRT ??
        (map as Record<string, unknown>).trt;
      candidates.push(entry && typeof entry === 'object' ? (entry as Record<string, unknown>).version : entry);
    }
  }
  for (const candidate of candidates)
    if (typeof candidate === 'string' && /^\d+\.\d+/.test(candidate)) return candidate;
  return null;
}

/** The container image the compile step ran trtexec in (`tools.image`), where the engine is sure to load. */
export function manifestImage(manifest: Record<string, unknown>): string | null {
  const tools = manifest.tools;
  const image = tools && typeof tools === 'object' ? (tools as Record<string, unknown>).image : undefined;
  return typeof image === 'string' && image.length > 0 ? image : null;
}
