import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig, type LlmopsConfig } from '../../src/config/index.js';
import {
  loadCrdDir,
  loadSchemaDir,
  REPO_CRDS,
  StrictValidator,
  withCrds,
  type SchemaSet,
} from '../../src/k8s/validate/index.js';
import { tempDir as freshTempDir } from '../helpers/temp-dir.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The official schemas: `../shared/k8s-schemas` beside the repository root (CI clones put `shared/` there). */
export const schemaDir = path.resolve(repoRoot, '../shared/k8s-schemas');
export const SCHEMAS_MISSING = existsSync(path.join(schemaDir, 'kubernetes-v1.30.json'))
  ? false
  : `official schemas not found at ${schemaDir} (expected ../shared/k8s-schemas beside the repository)`;

let fullSchemas: Promise<SchemaSet> | undefined;
let fullValidator: Promise<StrictValidator> | undefined;
/** The shared schemas, plus the CRDs kept in this repository (schemas/crds/) for kinds the shared directory lacks. */
export function officialSchemas(): Promise<SchemaSet> {
  return (fullSchemas ??= Promise.all([loadSchemaDir(schemaDir), loadCrdDir(REPO_CRDS)]).then(([set, crds]) =>
    withCrds(set, crds),
  ));
}
export function officialValidator(): Promise<StrictValidator> {
  return (fullValidator ??= officialSchemas().then((set) => StrictValidator.create(set)));
}

/** Secret values put in the environment of the runs that must never leak them. */
export const SECRET_ENV = {
  HF_TOKEN: 'hf_TESTSECRETvalue0123456789abcdef',
  API_KEYS: 'sk-test-key-one-0123456789,sk-test-key-two-9876543210',
  OPENAI_API_KEY: 'sk-proj-another-secret-value-42',
};

/** The example config, with a knob per dimension the tests vary. */
export function exampleConfig(
  overrides: { strategy?: string; engine?: string; metric?: string; extra?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const strategy = overrides.strategy ?? 'init';
  const storage: Record<string, unknown> = { strategy };
  // The node server's image has no Hub client: downloads (init, a new volume's populate Job) use a pinned one.
  if (strategy === 'volume' || strategy === 'init')
    Object.assign(storage, {
      size: '20Gi',
      storageClass: 'standard-rwx',
      downloaderImage: 'ghcr.io/acme/hf-downloader:1.1.5',
    });
  if (strategy === 'gcsfuse')
    Object.assign(storage, { bucket: 'acme-models', gcpServiceAccount: 'models@acme-prod.iam.gserviceaccount.com' });
  const deploy: Record<string, unknown> = {
    namespace: 'llm',
    replicas: { min: 2, max: 8 },
    gpu: { type: 'nvidia-l4', count: 1 },
    resources: { cpu: '4', memory: '16Gi' },
    storage,
    autoscaling: { engine: overrides.engine ?? 'keda', metric: overrides.metric ?? 'queue-depth', target: 70 },
    secrets: [
      { env: 'HF_TOKEN', name: 'hf-token', key: 'token' },
      { env: 'API_KEYS', name: 'tiny-gpt-api-keys', key: 'keys' },
    ],
    ...(overrides.extra ?? {}),
  };
  if ((overrides.metric ?? 'queue-depth') === 'queue-depth') (deploy.autoscaling as Record<string, unknown>).target = 4;
  return {
    name: 'tiny-gpt',
    model: { id: 'acme/tiny-gpt', revision: '0123abcd0123abcd0123abcd0123abcd0123abcd' },
    serve: { image: 'ghcr.io/acme/tiny-gpt-server:1.4.2', port: 8000, template: 'node' },
    deploy,
  };
}

export function loadExample(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): LlmopsConfig {
  return parseConfig(stringify(raw), { env }).config;
}

export function tempDir(prefix = 'llmops-deploy-test-'): Promise<string> {
  return freshTempDir(prefix);
}

export async function writeConfig(dir: string, raw: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, 'llmops.yaml');
  await writeFile(file, stringify(raw));
  return file;
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`node bin/llmops.js`) in `cwd`. */
export function runCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): CliRun {
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'bin/llmops.js'), ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
