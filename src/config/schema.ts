import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '../engine/session.js';
import { benchSchema } from './bench.js';
import { compileSchema } from './compile.js';
import { checkDeployConfig, deploySchema, DEPLOY_DEFAULTS, serveSchema, SERVE_DEFAULTS } from './deploy.js';

/**
 * The llmops.yaml schema. Every object is strict, so a misspelt key is an error that names it.
 * Each capability owns its section; this file only composes them.
 */

export const providerSchema = z.enum(EXECUTION_PROVIDERS);
export type Provider = z.infer<typeof providerSchema>;

const modelObjectSchema = z
  .object({
    /** Hub id (`org/name`) of the checkpoint. */
    id: z.string().min(1).optional(),
    /** Local model directory or llmops artifact. */
    path: z.string().min(1).optional(),
    /** Hub revision (branch, tag or commit sha). */
    revision: z.string().min(1).optional(),
    /** ONNX dtype variant in transformers.js layout (`onnx/model_<dtype>.onnx`). */
    dtype: z.string().min(1).optional(),
  })
  .strict();

export const modelSchema = z.union([z.string().min(1), modelObjectSchema]);

export const engineSchema = z
  .object({
    provider: providerSchema.default('cpu'),
    /** Intra-op threads for ONNX Runtime (default: one per physical core the process may use, within its cgroup CPU quota). */
    threads: z.number().int().positive().optional(),
    /**
     * ONNX Runtime's threads spin between parallel sections (its default) instead of sleeping: fastest when the model
     * has the cores to itself. Off shares them with other work (a server's HTTP, a load generator) at a few % of speed.
     */
    spinWait: z.boolean().optional(),
  })
  .strict();

export const generateSchema = z
  .object({
    maxTokens: z.number().int().positive().default(64),
    temperature: z.number().min(0).default(0),
    topP: z.number().gt(0).max(1).default(1),
    topK: z.number().int().min(0).default(0),
    /** See SamplingOptions: OpenAI's ranges, vLLM's meaning (generated tokens; repetition: the prompt's too). */
    presencePenalty: z.number().min(-2).max(2).optional(),
    frequencyPenalty: z.number().min(-2).max(2).optional(),
    repetitionPenalty: z.number().gt(0).optional(),
    seed: z.number().int().optional(),
    stop: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const hubSchema = z
  .object({
    /** Hub endpoint (HF_ENDPOINT), for mirrors and private hubs. */
    endpoint: z.string().url().default('https://huggingface.co'),
    /** Access token (HF_TOKEN); only ever read from the environment in practice, and always redacted. */
    token: z.string().min(1).optional(),
    /** Hugging Face cache directory (HF_HUB_CACHE, or HF_HOME/hub). */
    cache: z.string().min(1).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Service name: a DNS-1123 label, used for artifacts, projects and Kubernetes objects. */
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label (lowercase letters, digits and -)')
      .default('llmops-model'),
    model: modelSchema.optional(),
    engine: engineSchema.default({ provider: 'cpu' }),
    generate: generateSchema.default({ maxTokens: 64, temperature: 0, topP: 1, topK: 0, stop: [] }),
    hub: hubSchema.default({ endpoint: 'https://huggingface.co' }),
    bench: benchSchema.default({ maxRegression: 0.05 }),
    compile: compileSchema.default({}),
    serve: serveSchema.default(SERVE_DEFAULTS),
    deploy: deploySchema.default(DEPLOY_DEFAULTS),
  })
  .strict()
  .superRefine(checkDeployConfig);

export type LlmopsConfig = z.infer<typeof configSchema>;

/** An on/off environment value: 1, true, on / 0, false, off; anything else is left for the schema to reject. */
function parseSwitch(value: string): unknown {
  const normalized = value.trim().toLowerCase();
  if (['1', 'true', 'on'].includes(normalized)) return true;
  if (['0', 'false', 'off'].includes(normalized)) return false;
  return value;
}

/** Environment variables that set config keys (flags > environment > file > defaults). */
export const ENV_BINDINGS: ReadonlyArray<{
  env: string;
  path: readonly string[];
  parse?: (value: string) => unknown;
  /** What the variable takes, where that differs from the config key's own type (for the error). */
  takes?: string;
}> = [
  { env: 'LLMOPS_MODEL', path: ['model'] },
  { env: 'LLMOPS_PROVIDER', path: ['engine', 'provider'] },
  { env: 'LLMOPS_THREADS', path: ['engine', 'threads'], parse: Number },
  { env: 'LLMOPS_SPIN_WAIT', path: ['engine', 'spinWait'], parse: parseSwitch, takes: '1, true, on, 0, false or off' },
  { env: 'LLMOPS_GPU_PRICE', path: ['bench', 'gpuPricePerHour'], parse: Number },
  { env: 'HF_ENDPOINT', path: ['hub', 'endpoint'] },
  { env: 'HF_TOKEN', path: ['hub', 'token'] },
  { env: 'HF_HUB_CACHE', path: ['hub', 'cache'] },
];

/** Keys whose values are secrets: redacted in `llmops config` and never written anywhere. */
export const SECRET_KEY = /(token|secret|password|apikey|api_key|apiKeys)$/i;
