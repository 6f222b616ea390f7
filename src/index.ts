/** The llmops library: the CLI is one client of these exports. */
export { LlmopsError, ExitCode, usageError, checkFailed, InterruptedError, isLlmopsError } from './errors.js';
export { loadConfig, parseConfig, redactSecrets, configSchema, type LlmopsConfig, type LoadedConfig } from './config/index.js';
export { CausalLM, DecoderBatch, type GenerateOptions, type Generation, type LoadModelOptions } from './engine/index.js';
export { resolveModel, type ResolvedModel } from './model/resolve.js';
export { deploy, lintObjects, readManifests, type DeployOptions, type DeployResult, type LintFinding } from './deploy/index.js';
