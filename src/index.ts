/** The llmops library: the CLI is one client of these exports. */
export { LlmopsError, ExitCode, usageError, checkFailed, InterruptedError, isLlmopsError } from './errors.js';
export {
  loadConfig,
  parseConfig,
  redactSecrets,
  configSchema,
  type LlmopsConfig,
  type LoadedConfig,
} from './config/index.js';
export {
  CausalLM,
  DecoderBatch,
  keepOrtTelemetryOff,
  type GenerateOptions,
  type Generation,
  type LoadModelOptions,
} from './engine/index.js';
export {
  resolveModel,
  ensureTinyModel,
  buildTinyModel,
  TINY_MODEL_SPECS,
  type ResolvedModel,
  type TinyModelSize,
} from './model/index.js';
export { benchEngine, benchCausalLM, type EngineBenchOptions, type EngineBenchResult } from './bench/engine/run.js';
export { compareToBaseline, gateRows, type GateResult } from './bench/gate.js';
export {
  compile,
  readArtifact,
  type ArtifactManifest,
  type CompileOptions,
  type CompileResult,
} from './compile/index.js';
export {
  deploy,
  lintObjects,
  readManifests,
  type DeployOptions,
  type DeployResult,
  type LintFinding,
} from './deploy/index.js';
export { benchEndpoint, type EndpointBenchOptions } from './bench/endpoint/run.js';
export { mergeEndpointResults } from './bench/endpoint/merge.js';
export { renderHtmlReport } from './bench/endpoint/report.js';
export type { EndpointBenchResult, EndpointRun, LoadShape, Slo } from './bench/endpoint/types.js';
