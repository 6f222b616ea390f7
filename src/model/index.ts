export {
  buildTinyModel,
  ensureTinyModel,
  llmopsCacheDir,
  TINY_MODEL_SPECS,
  TINY_MODEL_VERSION,
  type TinyModelSize,
  type TinyModelSpec,
  type BuildTinyModelOptions,
  type BuiltTinyModel,
} from './tiny.js';
export { resolveModel, type ResolvedModel } from './resolve.js';
