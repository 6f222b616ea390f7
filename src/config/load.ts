import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Node } from 'yaml';
import type { z } from 'zod';
import { usageError } from '../errors.js';
import { configSchema, ENV_BINDINGS, SECRET_KEY, type LlmopsConfig } from './schema.js';

export const CONFIG_FILE_NAME = 'llmops.yaml';

export interface LoadConfigOptions {
  /** Explicit --config path; when absent, `llmops.yaml` in `cwd` is used if it exists. */
  configPath?: string;
  /** @default process.cwd() */
  cwd?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: LlmopsConfig;
  /** Absolute path of the file read, or null when defaults (and the environment) alone apply. */
  file: string | null;
  /** Keys set by environment variables, e.g. `engine.provider` ← `LLMOPS_PROVIDER`. */
  fromEnv: Record<string, string>;
}

/** Loads and validates llmops.yaml, then overlays environment variables. Flags are applied by each command. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const explicit = options.configPath !== undefined;
  const file = path.resolve(cwd, options.configPath ?? CONFIG_FILE_NAME);

  let text: string | null = null;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (explicit || code !== 'ENOENT') {
      throw usageError(
        `cannot read config file ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
        'CONFIG_NOT_FOUND',
      );
    }
  }
  return parseConfig(text ?? '', { file: text === null ? null : file, env });
}

/** Parses config text (YAML) with the environment overlaid; errors name the key and its line. */
export function parseConfig(
  text: string,
  options: { file?: string | null; env?: NodeJS.ProcessEnv } = {},
): LoadedConfig {
  const file = options.file ?? null;
  const where = file ?? 'config';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = lineCounter.linePos(first.pos[0]).line;
    throw usageError(
      `${where}${line ? `:${line}` : ''}: invalid YAML: ${first.message.split('\n')[0]}`,
      'CONFIG_INVALID',
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) {
    throw usageError(`${where}: the top level must be a mapping of keys`, 'CONFIG_INVALID');
  }

  const fromEnv: Record<string, string> = {};
  const merged = structuredClone(raw) as Record<string, unknown>;
  for (const binding of ENV_BINDINGS) {
    const value = options.env?.[binding.env];
    if (value === undefined || value === '') continue;
    setIn(merged, binding.path, binding.parse ? binding.parse(value) : value);
    fromEnv[binding.path.join('.')] = binding.env;
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keyPath = issuePath(issue);
    const dotted = keyPath.join('.');
    const envName = fromEnv[dotted];
    const line = envName ? undefined : lineOf(doc.contents, keyPath, lineCounter);
    const source = envName ? `environment variable ${envName}` : `${where}${line ? `:${line}` : ''}`;
    const takes = ENV_BINDINGS.find((binding) => binding.env === envName)?.takes;
    const problem = takes ? `must be ${takes}` : describeIssue(issue);
    throw usageError(`${source}: \`${dotted || '(top level)'}\` ${problem}`, 'CONFIG_INVALID', {
      details: { key: dotted, line: line ?? null },
    });
  }
  return { config: parsed.data, file, fromEnv };
}

function issuePath(issue: z.core.$ZodIssue): string[] {
  const base = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) return [...base, issue.keys[0]!];
  return base;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'is not a known key';
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return `must be ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}`;
    default:
      return issue.message.replace(/^Invalid input: /, '').replace(/^./, (c) => c.toLowerCase());
  }
}

/** The 1-based line of a key path in the YAML document, walking as deep as the document goes. */
function lineOf(node: unknown, keyPath: string[], lineCounter: LineCounter): number | undefined {
  let current = node as Node | null | undefined;
  let line: number | undefined;
  for (const key of keyPath) {
    if (!isMap(current)) break;
    const pair = current.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
    if (!pair) break;
    const range = (pair.key as Node).range;
    if (range) line = lineCounter.linePos(range[0]).line;
    current = pair.value as Node | null;
  }
  return line;
}

function setIn(target: Record<string, unknown>, keyPath: readonly string[], value: unknown): void {
  let cursor = target;
  for (const key of keyPath.slice(0, -1)) {
    const next = cursor[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cursor[key] = {};
    cursor = cursor[key] as Record<string, unknown>;
  }
  cursor[keyPath[keyPath.length - 1]!] = value;
}

/** A deep copy with every secret value replaced, for printing. */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    return items.map((item) => redactSecrets(item)) as T;
  }
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && inner !== undefined ? '<redacted>' : redactSecrets(inner);
  }
  return out as T;
}
