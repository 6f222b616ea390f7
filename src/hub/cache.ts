import os from 'node:os';
import path from 'node:path';

/**
 * The Hugging Face cache directory, as Python's huggingface_hub resolves it (so both share downloads):
 * HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 */
export function hubCacheDir(configured?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return path.resolve(configured);
  if (env.HF_HUB_CACHE) return path.resolve(env.HF_HUB_CACHE);
  if (env.HF_HOME) return path.join(path.resolve(env.HF_HOME), 'hub');
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(base, 'huggingface', 'hub');
}

/** `models--org--name`, the cache folder of a model repo. */
export function repoFolderName(repo: string): string {
  return `models--${repo.replace(/\//g, '--')}`;
}
