import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeModel } from './onnx-writer.js';

const WORDS = [
  '[UNK]',
  'the',
  'of',
  'a',
  'is',
  'and',
  'to',
  'into',
  'story',
  'computing',
  'history',
  'language',
  'models',
  'text',
  'turned',
  'each',
];

/**
 * A causal LM directory in Optimum's layout small enough to build in a test: one layer whose KV cache is the token
 * embeddings (present = Concat(past, new)), logits = embeddings × W. Real decoder I/O (input_ids, attention_mask,
 * position_ids, past_key_values.0.key|value → logits, present.0.key|value) with a word-level tokenizer.
 */
export async function writeDecoderFixture(
  dir: string,
  options: { vocab?: number; headDim?: number; contextLength?: number } = {},
): Promise<string> {
  const vocab = options.vocab ?? 64;
  const headDim = options.headDim ?? 8;
  await mkdir(dir, { recursive: true });
  const values = (count: number, seed: number) =>
    Float32Array.from({ length: count }, (_, index) => Math.sin(index * 0.91 + seed));
  const model = encodeModel({
    inputs: [
      { name: 'input_ids', elemType: 7, dims: ['batch_size', 'sequence_length'] },
      { name: 'attention_mask', elemType: 7, dims: ['batch_size', 'total_sequence_length'] },
      { name: 'position_ids', elemType: 7, dims: ['batch_size', 'sequence_length'] },
      { name: 'past_key_values.0.key', elemType: 1, dims: ['batch_size', 1, 'past_sequence_length', headDim] },
      { name: 'past_key_values.0.value', elemType: 1, dims: ['batch_size', 1, 'past_sequence_length', headDim] },
    ],
    outputs: [
      { name: 'logits', elemType: 1, dims: ['batch_size', 'sequence_length', vocab] },
      { name: 'present.0.key', elemType: 1, dims: ['batch_size', 1, 'total_sequence_length', headDim] },
      { name: 'present.0.value', elemType: 1, dims: ['batch_size', 1, 'total_sequence_length', headDim] },
    ],
    nodes: [
      { opType: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: ['hidden'] },
      { opType: 'Unsqueeze', inputs: ['hidden', 'head_axis'], outputs: ['new_kv'] },
      {
        opType: 'Concat',
        inputs: ['past_key_values.0.key', 'new_kv'],
        outputs: ['present.0.key'],
        attributes: { axis: 2 },
      },
      {
        opType: 'Concat',
        inputs: ['past_key_values.0.value', 'new_kv'],
        outputs: ['present.0.value'],
        attributes: { axis: 2 },
      },
      { opType: 'MatMul', inputs: ['hidden', 'unembed'], outputs: ['logits'] },
    ],
    initializers: [
      { name: 'embeddings', dims: [vocab, headDim], data: values(vocab * headDim, 1) },
      { name: 'unembed', dims: [headDim, vocab], data: values(headDim * vocab, 2) },
      { name: 'head_axis', dims: [1], data: BigInt64Array.from([1n]) },
    ],
  });
  await writeFile(path.join(dir, 'model.onnx'), model);
  await writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'llama',
      num_hidden_layers: 1,
      num_attention_heads: 1,
      num_key_value_heads: 1,
      hidden_size: headDim,
      vocab_size: vocab,
      max_position_embeddings: options.contextLength ?? 512,
      eos_token_id: vocab - 1,
    }),
  );
  await writeFile(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: vocab - 1 }));
  await writeFile(
    path.join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        { id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: {
        type: 'WordPiece',
        unk_token: '[UNK]',
        continuing_subword_prefix: '##',
        max_input_chars_per_word: 100,
        vocab: Object.fromEntries(WORDS.map((word, id) => [word, id])),
      },
    }),
  );
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ unk_token: '[UNK]' }));
  return dir;
}
