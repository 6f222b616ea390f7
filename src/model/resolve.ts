import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { LlmopsConfig } from '../config/index.js';
import { usageError } from '../errors.js';

export interface ResolvedModel {
  /** Local directory to load. */
  dir: string;
  /** Where it came from: `flag`, `config`, or `embedded` (the built-in tiny model). */
  source: 'flag' | 'config' | 'embedded';
  dtype?: string;
}

/**
 * The model a command works on: the positional argument, else `model` in llmops.yaml, else the embedded tiny
 * model (built once into the cache). Hub ids must be fetched first (`llmops compile` does).
 */
export async function resolveModel(argument: string | undefined, config: LlmopsConfig): Promise<ResolvedModel> {
  if (argument) return { dir: await localDir(argument, '`model` argument'), source: 'flag' };
  const configured = config.model;
  if (configured !== undefined) {
    const ref = typeof configured === 'string' ? configured : (configured.path ?? configured.id);
    const dtype = typeof configured === 'string' ? undefined : configured.dtype;
    if (ref) return { dir: await localDir(ref, 'config key `model`'), source: 'config', ...(dtype ? { dtype } : {}) };
  }
  const { ensureTinyModel } = await import('./tiny.js' as string) as { ensureTinyModel: () => Promise<string> };
  return { dir: await ensureTinyModel(), source: 'embedded' };
}

async function localDir(ref: string, what: string): Promise<string> {
  const info = await stat(ref).catch(() => null);
  if (info) return path.resolve(ref);
  if (/^[\w.-]+\/[\w.-]+$/.test(ref)) {
    throw usageError(`${what} ${ref} looks like a Hub id but no such local directory exists`, 'MODEL_NOT_LOCAL', {
      hint: `fetch and compile it first: llmops compile --model ${ref} --backend ort --out ./models/${ref.split('/')[1]}`,
    });
  }
  throw usageError(`model directory ${ref} does not exist`, 'MODEL_NOT_FOUND');
}
