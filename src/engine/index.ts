/** The decoder engine. Self-contained (onnxruntime-node, @huggingface/tokenizers and ../errors.js) so scaffold can vendor it. */
export { CausalLM, type LoadModelOptions, type KvReservation, type PrefillOptions } from './causal-lm.js';
export {
  DecoderBatch,
  Sequence,
  type DecoderBatchOptions,
  type StepStats,
  type GenerateOptions,
  type Generation,
  type FinishReason,
  type SequenceRequest,
} from './batch.js';
export type { DecodeState } from './decode-state.js';
export type { KvCachePath } from './kv-buffers.js';
export { readOnnxOutputNames } from './onnx-outputs.js';
export { defaultThreadCount } from './cpu-threads.js';
export { locateModelFiles, type ModelFiles, type ModelConfig } from './model-files.js';
export {
  createSession,
  loadOrt,
  keepOrtTelemetryOff,
  assertProviderInstalled,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  type CreateSessionOptions,
} from './session.js';
export {
  readDecoderSignature,
  readValueInfos,
  type DecoderSignature,
  type ValueInfo,
  type KvLayer,
} from './signature.js';
export { TextTokenizer, IncrementalDecoder } from './tokenizer.js';
export { sampleToken, argmax, createRandom, TokenPenalties, type SamplingOptions } from './sampling.js';
export { StopStringMatcher } from './stop.js';
