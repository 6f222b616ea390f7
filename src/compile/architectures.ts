import type { ModelConfig } from '../engine/model-files.js';

/** Decoder model types Optimum's ONNX exporter supports for text-generation (optimum 1.24). */
export const OPTIMUM_DECODERS = new Set([
  'bloom',
  'codegen',
  'cohere',
  'falcon',
  'gemma',
  'gemma2',
  'gpt2',
  'gpt_bigcode',
  'gpt_neo',
  'gpt_neox',
  'gptj',
  'granite',
  'llama',
  'mistral',
  'mpt',
  'olmo',
  'olmo2',
  'opt',
  'phi',
  'phi3',
  'qwen2',
  'qwen3',
  'smollm3',
  'stablelm',
  'starcoder2',
]);

/** Model types ONNX Runtime's transformer optimizer (`--optimize O1-O4`) knows. */
export const OPTIMUM_OPTIMIZABLE = new Set([
  'bloom',
  'codegen',
  'gpt2',
  'gpt_bigcode',
  'gpt_neo',
  'gpt_neox',
  'gptj',
  'llama',
  'mistral',
]);

/** TensorRT-LLM's checkpoint converters, by transformers model type → examples/models/core/<dir>. */
export const TRTLLM_CONVERTERS: Record<string, string> = {
  llama: 'llama',
  mistral: 'llama',
  gpt2: 'gpt',
  gpt_bigcode: 'gpt',
  starcoder2: 'gpt',
  qwen2: 'qwen',
  qwen3: 'qwen',
  phi: 'phi',
  phi3: 'phi',
  gemma: 'gemma',
  gemma2: 'gemma',
  falcon: 'falcon',
  gptj: 'gptj',
  gpt_neox: 'gptneox',
  bloom: 'bloom',
  opt: 'opt',
  mpt: 'mpt',
};

export function modelType(config: ModelConfig | null): string | undefined {
  return typeof config?.model_type === 'string' ? config.model_type : undefined;
}

/** config.json values the shape defaults need, under the names different architectures use. */
export function decoderDimensions(
  config: ModelConfig,
): { layers: number; heads: number; kvHeads: number; headDim: number; maxPositions: number } | null {
  const layers = config.num_hidden_layers ?? config.n_layer;
  const heads = config.num_attention_heads ?? config.n_head;
  const hidden = config.hidden_size ?? config.n_embd;
  if (!layers || !heads || !hidden) return null;
  return {
    layers,
    heads,
    kvHeads: config.num_key_value_heads ?? heads,
    headDim: config.head_dim ?? hidden / heads,
    maxPositions: config.max_position_embeddings ?? config.n_positions ?? 2048,
  };
}
