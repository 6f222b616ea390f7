// Shared by the reference tests: the PyTorch-made fixtures under test/fixtures/reference
// (scripts/reference/export_reference_models.py) and layout helpers.
import { cp, mkdir, readFile, readdir, rm } from 'node:fs/promises';

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './temp-dir.js';

/** Compiled to dist/test/helpers/, so the sources' fixtures are three levels up. */
export const REFERENCE_ROOT = fileURLToPath(new URL('../../../test/fixtures/reference/', import.meta.url));

/** Attention that concatenates past and new keys into present (Optimum's exports): left-padded batches. */
export const CONCAT_VARIANTS = ['llama-gqa', 'gpt2-nopos', 'gpt2-merged', 'llama-fp16kv', 'llama-sdpa'] as const;
/** The same models with ONNX Runtime's GroupQueryAttention and new_key_values.* outputs: right-padded batches. */
export const GQA_VARIANTS = ['gpt2-gqa', 'llama-gqa-shared', 'llama-fp16kv-gqa'] as const;
export const VARIANTS = [...CONCAT_VARIANTS, ...GQA_VARIANTS] as const;
export type Variant = (typeof VARIANTS)[number];

export interface ReferenceCase {
  name: string;
  prompt: string;
  promptIds: number[];
  generatedIds: number[];
}

export interface Expected {
  variant: Variant;
  maxNewTokens: number;
  eosTokenId: number;
  inputs: string[];
  outputs: string[];
  kvDtype: 'float32' | 'float16';
  /** Absent: the concatenating layout. */
  kvLayout?: 'gqa';
  logitsDtype: 'float32' | 'float16';
  batch: string[];
  cases: ReferenceCase[];
}

export function fixtureDir(variant: Variant): string {
  return join(REFERENCE_ROOT, variant);
}

export async function readExpected(variant: Variant): Promise<Expected> {
  return JSON.parse(await readFile(join(fixtureDir(variant), 'expected.json'), 'utf8')) as Expected;
}

export async function readJson<T = Record<string, unknown>>(variant: Variant, file: string): Promise<T> {
  return JSON.parse(await readFile(join(fixtureDir(variant), file), 'utf8')) as T;
}

export function batchCases(expected: Expected): ReferenceCase[] {
  return expected.batch.map((name) => {
    const found = expected.cases.find((c) => c.name === name);
    if (!found) throw new Error(`expected.json of ${expected.variant} lists unknown batch case ${name}`);
    return found;
  });
}

/**
 * A copy of the fixture in Optimum's layout (model.onnx [+ model.onnx_data] at the root).
 * Copied rather than used in place so nothing an engine writes can touch the committed files.
 */
export async function optimumLayout(variant: Variant, into: string, graphName = 'model.onnx'): Promise<string> {
  const dir = join(into, `${variant}-optimum-${graphName}`);
  await mkdir(dir, { recursive: true });
  for (const file of await readdir(fixtureDir(variant))) {
    if (file === 'expected.json') continue;
    await cp(join(fixtureDir(variant), file), join(dir, file === 'model.onnx' ? graphName : file));
  }
  return dir;
}

/**
 * The same model in transformers.js's layout: onnx/model.onnx (or onnx/model_<dtype>.onnx),
 * configs and tokenizer at the root. External data keeps its recorded name beside the graph.
 */
export async function transformersJsLayout(
  variant: Variant,
  into: string,
  dtype?: string,
  graphName = dtype ? `model_${dtype}.onnx` : 'model.onnx',
): Promise<string> {
  const dir = join(into, `${variant}-tjs-${graphName}`);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const file of await readdir(fixtureDir(variant))) {
    if (file === 'expected.json') continue;
    const target =
      file === 'model.onnx' ? join('onnx', graphName) : file === 'model.onnx_data' ? join('onnx', file) : file;
    await cp(join(fixtureDir(variant), file), join(dir, target));
  }
  return dir;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir('llmops-reference-');
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** IEEE 754 half (as stored in a Uint16Array) to a JS number. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
