import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { sha256File } from '../fs/hash.js';
import { parseJson } from '../fs/json.js';
import type { Device } from './compile-choices.js';

export const MANIFEST_FILE = 'llmops.json';
export const MANIFEST_SCHEMA_VERSION = 1;

export interface ArtifactFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface ValueSignature {
  name: string;
  type: string;
  dims: Array<number | string>;
}

/** What `llmops compile` built, from what, with which tools, for which hardware: read by bench, scaffold and deploy. */
export interface ArtifactManifest {
  schemaVersion: number;
  name: string;
  source: { model: string; revision: string | null; commit: string | null };
  backend: string;
  task: string;
  precision: string;
  /** e.g. the ORT optimization level and whether it is portable, or TensorRT shapes. */
  options: Record<string, unknown>;
  files: ArtifactFile[];
  io: { inputs: ValueSignature[]; outputs: ValueSignature[] };
  tools: Record<string, string>;
  hardware: {
    portable: boolean;
    device: Device;
    gpu?: { name: string; computeCapability?: string; driver?: string; memoryMiB?: number } | null;
  };
  validation: { passed: boolean; method: string; [key: string]: unknown } | null;
  command: string[];
  createdAt: string;
}

/** Every file under `dir` except the manifest, with size and sha256, sorted by path. */
export async function describeFiles(dir: string): Promise<ArtifactFile[]> {
  const files: ArtifactFile[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const parent =
      (entry as unknown as { parentPath?: string; path: string }).parentPath ??
      (entry as unknown as { path: string }).path;
    const absolute = path.join(parent, entry.name);
    const relative = path.relative(dir, absolute).split(path.sep).join('/');
    if (relative === MANIFEST_FILE) continue;
    files.push({ path: relative, bytes: (await stat(absolute)).size, sha256: await sha256File(absolute) });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

export interface ReadArtifactOptions {
  /** Recompute every file's sha256 and compare with the manifest. @default false */
  verify?: boolean;
}

const INVALID = {
  what: 'artifact manifest',
  code: 'ARTIFACT_INVALID',
  hint: 're-run `llmops compile` to rewrite the artifact',
};

/**
 * An artifact's manifest as written, without the schema check: for readers that only peek at a field or two
 * (bench's backend and TensorRT version, deploy's GPU) and accept older or hand-written manifests. Null when `dir`
 * has no manifest; invalid JSON, or JSON that is not an object, is a usage error naming the file.
 */
export async function peekArtifact(dir: string): Promise<Partial<ArtifactManifest> | null> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const parsed = parseJson(text, file, INVALID);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw usageError(`${file} is not a JSON object`, INVALID.code, { hint: INVALID.hint });
  return parsed;
}

/** Reads an artifact's manifest (and optionally verifies its files); null when `dir` is a plain model directory. */
export async function readArtifact(dir: string, options: ReadArtifactOptions = {}): Promise<ArtifactManifest | null> {
  const peeked = await peekArtifact(dir);
  if (peeked === null) return null;
  const manifest = peeked as ArtifactManifest;
  if (manifest.schemaVersion !== MANIFEST_SCHEMA_VERSION || !Array.isArray(manifest.files)) {
    throw usageError(
      `${path.join(dir, MANIFEST_FILE)} has schemaVersion ${String(manifest.schemaVersion)}; this llmops reads ${MANIFEST_SCHEMA_VERSION}`,
      'ARTIFACT_INVALID',
    );
  }
  if (options.verify) {
    for (const file of manifest.files) {
      const absolute = path.join(dir, file.path);
      const actual = await sha256File(absolute).catch(() => null);
      if (actual === null) throw usageError(`artifact ${dir} is missing ${file.path}`, 'ARTIFACT_CORRUPT');
      if (actual !== file.sha256)
        throw usageError(
          `artifact ${dir}: ${file.path} does not match its sha256 in ${MANIFEST_FILE}`,
          'ARTIFACT_CORRUPT',
          { hint: 'the file changed after compile; rebuild the artifact' },
        );
    }
  }
  return manifest;
}
