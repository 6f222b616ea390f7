import { readFile, stat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';

/** Where a causal LM's files are, whichever layout it uses. */
export interface ModelFiles {
  /** The model directory. */
  dir: string;
  /** The ONNX graph to load. */
  onnxPath: string;
  layout: 'optimum' | 'transformers.js';
  /** `config.json`, parsed. */
  config: ModelConfig;
  /** `generation_config.json`, parsed, or {} when absent. */
  generationConfig: GenerationConfig;
  tokenizerPath: string;
  /** `tokenizer_config.json`, parsed, or {} when absent. */
  tokenizerConfig: Record<string, unknown>;
}

/** The fields of a transformers `config.json` the engine reads (names differ between architectures). */
export interface ModelConfig {
  model_type?: string;
  architectures?: string[];
  num_hidden_layers?: number;
  n_layer?: number;
  num_attention_heads?: number;
  n_head?: number;
  num_key_value_heads?: number;
  hidden_size?: number;
  n_embd?: number;
  head_dim?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
  n_positions?: number;
  bos_token_id?: number | number[] | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
  [key: string]: unknown;
}

export interface GenerationConfig {
  eos_token_id?: number | number[] | null;
  bos_token_id?: number | null;
  pad_token_id?: number | null;
  [key: string]: unknown;
}

/**
 * Finds the ONNX file and metadata of a model directory in Optimum's layout (`model.onnx` at the root, maybe
 * `decoder_model_merged.onnx`) or transformers.js's (`onnx/model.onnx`, `onnx/model_<dtype>.onnx`).
 */
export async function locateModelFiles(dir: string, options: { dtype?: string } = {}): Promise<ModelFiles> {
  const absolute = path.resolve(dir);
  const info = await stat(absolute).catch(() => null);
  if (!info) throw usageError(`model directory ${dir} does not exist`, 'MODEL_NOT_FOUND');
  if (!info.isDirectory())
    throw usageError(`model path ${dir} is not a directory`, 'MODEL_NOT_FOUND', {
      hint: 'pass the directory that holds model.onnx and config.json',
    });

  const { onnxPath, layout } = await findOnnx(absolute, dir, options.dtype);
  const config = await readJson<ModelConfig>(path.join(absolute, 'config.json'), dir, true);
  const generationConfig =
    (await readJson<GenerationConfig>(path.join(absolute, 'generation_config.json'), dir, false)) ?? {};
  const tokenizerPath = path.join(absolute, 'tokenizer.json');
  if (!(await exists(tokenizerPath))) {
    throw usageError(`model directory ${dir} has no tokenizer.json`, 'TOKENIZER_NOT_FOUND', {
      hint: 'export the tokenizer with the model (optimum-cli export onnx does) or copy tokenizer.json into the directory',
    });
  }
  const tokenizerConfig =
    (await readJson<Record<string, unknown>>(path.join(absolute, 'tokenizer_config.json'), dir, false)) ?? {};
  return { dir: absolute, onnxPath, layout, config: config!, generationConfig, tokenizerPath, tokenizerConfig };
}

async function findOnnx(
  absolute: string,
  shown: string,
  dtype: string | undefined,
): Promise<{ onnxPath: string; layout: ModelFiles['layout'] }> {
  const suffix = dtype && dtype !== 'fp32' ? `_${dtype}` : '';
  const candidates: Array<[string, ModelFiles['layout']]> = [
    [path.join(absolute, `model${suffix}.onnx`), 'optimum'],
    [path.join(absolute, 'onnx', `model${suffix}.onnx`), 'transformers.js'],
  ];
  // Older Optimum exports name the merged decoder this way; prefer it only when there is no model.onnx.
  if (!suffix) {
    candidates.push(
      [path.join(absolute, 'decoder_model_merged.onnx'), 'optimum'],
      [path.join(absolute, 'onnx', 'decoder_model_merged.onnx'), 'transformers.js'],
    );
  }
  for (const [candidate, layout] of candidates) if (await exists(candidate)) return { onnxPath: candidate, layout };

  if (dtype) {
    const variants = await listVariants(absolute);
    throw usageError(
      `model directory ${shown} has no ${dtype} variant (model${suffix}.onnx)`,
      'MODEL_VARIANT_NOT_FOUND',
      {
        hint: variants.length ? `available --dtype values: ${variants.join(', ')}` : 'omit --dtype',
      },
    );
  }
  throw usageError(`model directory ${shown} has no model.onnx or onnx/model.onnx`, 'MODEL_NOT_FOUND', {
    hint: 'export it with `llmops compile --backend optimum` or point at an ONNX model directory',
  });
}

async function listVariants(absolute: string): Promise<string[]> {
  const names = [
    ...(await readdir(absolute).catch(() => [] as string[])),
    ...(await readdir(path.join(absolute, 'onnx')).catch(() => [] as string[])),
  ];
  const variants = new Set<string>();
  for (const name of names) {
    const match = /^model(?:_(.+))?\.onnx$/.exec(name);
    if (match) variants.add(match[1] ?? 'fp32');
  }
  return [...variants].sort();
}

async function readJson<T>(file: string, shownDir: string, required: boolean): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    if (!required) return undefined;
    throw usageError(`model directory ${shownDir} has no ${path.basename(file)}`, 'MODEL_CONFIG_NOT_FOUND', {
      hint: 'a causal LM directory needs the config.json its export wrote',
    });
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw usageError(
      `${path.join(shownDir, path.basename(file))} is not valid JSON: ${(error as Error).message}`,
      'MODEL_CONFIG_INVALID',
    );
  }
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null))?.isFile() ?? false;
}
