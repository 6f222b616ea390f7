export {
  loadConfig,
  parseConfig,
  redactSecrets,
  CONFIG_FILE_NAME,
  type LoadConfigOptions,
  type LoadedConfig,
} from './load.js';
export { configSchema, type LlmopsConfig, type Provider } from './schema.js';
