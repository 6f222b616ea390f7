import { mkdir, open, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDirAtomically } from '../fs/atomic.js';
import { byteTokenIds, trainBpe, tokenizerJson } from './bpe.js';
import { TOKENIZER_CORPUS } from './corpus.js';
import { gpt2Graph, gpt2Weights, LAYER_NORM_EPSILON, type WeightSpec } from './gpt2.js';
import { DataType, encodeModel, type OnnxInitializer } from './onnx-graph.js';

export type TinyModelSize = 'tiny' | '80m';

export interface TinyModelSpec {
  layers: number;
  heads: number;
  hidden: number;
  /** Target vocabulary size; the tokenizer learns merges up to it (fewer if the corpus runs out of pairs). */
  vocabSize: number;
  maxPositions: number;
}

export const TINY_MODEL_SPECS: Record<TinyModelSize, TinyModelSpec> = {
  // A few hundred KB: the default model of every command and the fixture of the tests.
  tiny: { layers: 2, heads: 4, hidden: 64, vocabSize: 512, maxPositions: 256 },
  // ~80M parameters (320 MB fp32): memory-bound on a CPU, for benchmarks of the engine, bench and the server.
  '80m': { layers: 11, heads: 12, hidden: 768, vocabSize: 2048, maxPositions: 1024 },
};

/** Bump when the builder's output changes, so caches built by older versions are not reused. */
export const TINY_MODEL_VERSION = 1;
export const EOS_TOKEN = '<|endoftext|>';

export interface BuildTinyModelOptions {
  /** Directory to write (created; existing files are overwritten). */
  dir: string;
  /** @default 'tiny' */
  size?: TinyModelSize | TinyModelSpec;
  /** Seed of the weights. @default 0 */
  seed?: number;
  /** Where the ONNX file goes. @default 'optimum' (model.onnx at the root); 'transformers.js' puts it in onnx/ */
  layout?: 'optimum' | 'transformers.js';
  /** Store weights in model.onnx_data beside the graph, as Optimum does for large models. @default true for 80m */
  externalData?: boolean;
}

export interface BuiltTinyModel {
  dir: string;
  parameters: number;
  files: string[];
}

const CHAT_TEMPLATE =
  "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

/**
 * Builds a tiny GPT-2 decoder LM in Optimum's text-generation-with-past layout, deterministically and offline:
 * the same options give byte-identical files.
 */
export async function buildTinyModel(options: BuildTinyModelOptions): Promise<BuiltTinyModel> {
  const spec = typeof options.size === 'object' ? options.size : TINY_MODEL_SPECS[options.size ?? 'tiny'];
  if (spec.hidden % spec.heads !== 0)
    throw new Error(`hidden (${spec.hidden}) must be a multiple of heads (${spec.heads})`);
  const external = options.externalData ?? options.size === '80m';
  const onnxDir = options.layout === 'transformers.js' ? path.join(options.dir, 'onnx') : options.dir;
  await mkdir(onnxDir, { recursive: true });

  const bpe = trainBpe(TOKENIZER_CORPUS, spec.vocabSize, 1);
  const eosId = bpe.vocab.size;
  const dims = { ...spec, vocabSize: bpe.vocab.size + 1 };
  const graph = gpt2Graph(dims);
  const weights = gpt2Weights(dims);
  const random = normalGenerator(options.seed ?? 0);

  const initializers: OnnxInitializer[] = [...graph.constants];
  let parameters = 0;
  const dataFile = 'model.onnx_data';
  const files = [
    'config.json',
    'generation_config.json',
    'special_tokens_map.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ];
  if (external) {
    // Weights are streamed to the data file one tensor at a time: the 80M variant never sits in memory twice.
    const handle = await open(path.join(onnxDir, dataFile), 'w');
    let offset = 0;
    try {
      for (const weight of weights) {
        const values = generate(weight, random, eosId);
        parameters += values.length;
        const aligned = Math.ceil(offset / 4096) * 4096;
        const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        await handle.write(bytes, 0, bytes.length, aligned);
        initializers.push({
          name: weight.name,
          dims: weight.dims,
          dataType: DataType.FLOAT,
          data: { location: dataFile, offset: aligned, length: bytes.length },
        });
        offset = aligned + bytes.length;
      }
    } finally {
      await handle.close();
    }
    files.push(path.relative(options.dir, path.join(onnxDir, dataFile)));
  } else {
    for (const weight of weights) {
      const values = generate(weight, random, eosId);
      parameters += values.length;
      initializers.push({
        name: weight.name,
        dims: weight.dims,
        dataType: DataType.FLOAT,
        data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      });
    }
  }
  const { constants: _constants, ...model } = graph;
  await writeFile(
    path.join(onnxDir, 'model.onnx'),
    encodeModel({ ...model, initializers, docString: `tiny GPT-2 built by llmops (seed ${options.seed ?? 0})` }),
  );
  files.push(path.relative(options.dir, path.join(onnxDir, 'model.onnx')));

  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  await writeFile(
    path.join(options.dir, 'config.json'),
    json({
      _name_or_path: 'llmops/tiny-gpt2',
      activation_function: 'gelu_new',
      architectures: ['GPT2LMHeadModel'],
      bos_token_id: eosId,
      eos_token_id: eosId,
      initializer_range: 0.02,
      layer_norm_epsilon: LAYER_NORM_EPSILON,
      model_type: 'gpt2',
      n_ctx: dims.maxPositions,
      n_embd: dims.hidden,
      n_head: dims.heads,
      n_inner: null,
      n_layer: dims.layers,
      n_positions: dims.maxPositions,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      use_cache: true,
      vocab_size: dims.vocabSize,
    }),
  );
  await writeFile(
    path.join(options.dir, 'generation_config.json'),
    json({ bos_token_id: eosId, eos_token_id: eosId, max_length: dims.maxPositions }),
  );
  await writeFile(
    path.join(options.dir, 'special_tokens_map.json'),
    json({ bos_token: EOS_TOKEN, eos_token: EOS_TOKEN, unk_token: EOS_TOKEN }),
  );
  await writeFile(path.join(options.dir, 'tokenizer.json'), json(tokenizerJson(bpe, [EOS_TOKEN])));
  await writeFile(
    path.join(options.dir, 'tokenizer_config.json'),
    json({
      add_bos_token: false,
      add_prefix_space: false,
      bos_token: EOS_TOKEN,
      chat_template: CHAT_TEMPLATE,
      clean_up_tokenization_spaces: false,
      eos_token: EOS_TOKEN,
      model_max_length: dims.maxPositions,
      tokenizer_class: 'GPT2Tokenizer',
      unk_token: EOS_TOKEN,
    }),
  );
  return { dir: options.dir, parameters, files: files.sort() };
}

/** The llmops cache: LLMOPS_CACHE_DIR, else $XDG_CACHE_HOME/llmops, else ~/.cache/llmops. */
export function llmopsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LLMOPS_CACHE_DIR) return path.resolve(env.LLMOPS_CACHE_DIR);
  return path.join(env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache'), 'llmops');
}

/**
 * The embedded model's directory, built on first use. Built in a temp dir and renamed into place, so a reader never
 * sees a half-written model and two processes racing both end up with one complete copy.
 */
export async function ensureTinyModel(options: { size?: TinyModelSize; cacheDir?: string } = {}): Promise<string> {
  const size = options.size ?? 'tiny';
  const target = path.join(options.cacheDir ?? llmopsCacheDir(), 'models', `tiny-gpt2-${size}-v${TINY_MODEL_VERSION}`);
  if (await isDirectory(target)) return target;
  try {
    await buildDirAtomically(target, (temp) => buildTinyModel({ dir: temp, size }));
  } catch (error) {
    // Another process finished first: its copy is as good as ours.
    if (await isDirectory(target)) return target;
    throw error;
  }
  return target;
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => null))?.isDirectory() ?? false;
}

function generate(weight: WeightSpec, random: () => number, eosId: number): Float32Array {
  const count = weight.dims.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  if (weight.init === 'ones') values.fill(1);
  else if (weight.init === 'normal') {
    const std = weight.std ?? 0.02;
    for (let i = 0; i < count; i += 1) values[i] = random() * std;
  }
  if (weight.name === 'transformer.wte.weight') dampenUnprintableTokens(values, weight.dims[1]!, eosId);
  return values;
}

/**
 * Random weights would pick lone UTF-8 continuation bytes and control characters as often as words, and the demo
 * would print U+FFFD. Shrinking those embedding rows (and EOS's, so generations don't end at once) keeps their tied
 * logits near zero: the model still babbles, but in printable text.
 */
function dampenUnprintableTokens(wte: Float32Array, hidden: number, eosId: number): void {
  const ids = byteTokenIds();
  const rows = [eosId];
  for (let byte = 0; byte < 256; byte += 1) if (byte < 0x20 || byte >= 0x7f) rows.push(ids[byte]!);
  for (const row of rows) for (let i = 0; i < hidden; i += 1) wte[row * hidden + i]! *= 0.05;
}

/** Standard normal samples from a seeded mulberry32 stream (Box–Muller), identical on every platform. */
function normalGenerator(seed: number): () => number {
  let state = (seed ^ 0x9e3779b9) >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}
