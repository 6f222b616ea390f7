import { mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LlmopsError, usageError } from '../errors.js';
import { sha256File } from '../fs/hash.js';
import { hubCacheDir, repoFolderName } from './cache.js';

export interface DownloadModelOptions {
  /** `org/name`. */
  repo: string;
  /** Branch, tag or commit sha. @default main */
  revision?: string;
  /** @default https://huggingface.co (HF_ENDPOINT) */
  endpoint?: string;
  /** HF_TOKEN; sent only as an Authorization header, never logged. */
  token?: string;
  /** @default the shared Hugging Face cache */
  cacheDir?: string;
  /** For tests and proxies. */
  fetch?: typeof fetch;
  onProgress?: (message: string) => void;
}

export interface DownloadedModel {
  /** The snapshot directory in the cache (`…/snapshots/<commit>`). */
  dir: string;
  repo: string;
  revision: string;
  commit: string;
  files: Array<{ path: string; size: number; sha256?: string }>;
}

interface TreeEntry {
  type: string;
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number };
}

/**
 * Downloads a model repository into the shared Hugging Face cache at a commit: resolves the revision to its sha
 * (recorded by compile), downloads every file, and checks large (LFS) files against their sha256.
 */
export async function downloadModel(options: DownloadModelOptions): Promise<DownloadedModel> {
  const hub = await import('@huggingface/hub');
  const endpoint = (options.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
  const revision = options.revision ?? 'main';
  const cacheDir = hubCacheDir(options.cacheDir);
  const common = {
    hubUrl: endpoint,
    ...(options.token ? { accessToken: options.token } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  const failure = (error: unknown) =>
    hubError(error, { repo: options.repo, revision, endpoint, hasToken: Boolean(options.token) });

  let commit: string;
  const entries: TreeEntry[] = [];
  try {
    const info = await hub.modelInfo({ ...common, name: options.repo, revision, additionalFields: ['sha'] });
    commit = (info as { sha?: string }).sha ?? '';
    if (!/^[0-9a-f]{40}$/.test(commit))
      throw new LlmopsError(
        `the Hub at ${endpoint} returned no commit sha for ${options.repo}@${revision}`,
        'HUB_BAD_RESPONSE',
      );
    for await (const entry of hub.listFiles({
      ...common,
      repo: { type: 'model', name: options.repo },
      revision: commit,
      recursive: true,
    })) {
      if (entry.type === 'file') entries.push(entry as TreeEntry);
    }
  } catch (error) {
    throw failure(error);
  }

  let dir: string;
  // @huggingface/hub reports each file with console.debug, i.e. on stdout, which would corrupt --json output.
  const debug = console.debug;
  console.debug = (...args: unknown[]) => options.onProgress?.(args.map(String).join(' '));
  try {
    dir = await hub.snapshotDownload({
      ...common,
      repo: { type: 'model', name: options.repo },
      revision: commit,
      cacheDir,
    });
  } catch (error) {
    throw failure(error);
  } finally {
    console.debug = debug;
  }
  // Python's cache maps the named revision to its commit in refs/; snapshotDownload only does so for names it was given.
  if (revision !== commit) {
    const refs = path.join(cacheDir, repoFolderName(options.repo), 'refs');
    await mkdir(path.dirname(path.join(refs, revision)), { recursive: true });
    await writeFile(path.join(refs, revision), commit);
  }

  const files: DownloadedModel['files'] = [];
  for (const entry of entries.sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const file = path.join(dir, entry.path);
    if (entry.lfs) {
      const actual = await sha256File(file);
      if (actual !== entry.lfs.oid) {
        // Never leave a corrupt blob in the shared cache: the next run (or a Python tool) would trust it.
        const blob = await realpath(file).catch(() => null);
        await rm(file, { force: true });
        if (blob) await rm(blob, { force: true });
        throw new LlmopsError(
          `${options.repo}: ${entry.path} is corrupt (sha256 ${actual.slice(0, 12)}… ≠ ${entry.lfs.oid.slice(0, 12)}… from the Hub); the bad copy was removed from the cache`,
          'HUB_CORRUPT_DOWNLOAD',
          {
            hint: 'run the command again to re-download it',
          },
        );
      }
      files.push({ path: entry.path, size: entry.size, sha256: actual });
    } else files.push({ path: entry.path, size: entry.size });
  }
  return { dir, repo: options.repo, revision, commit, files };
}

/** Maps Hub and network failures to errors a user can act on; the token is never part of a message. */
function hubError(
  error: unknown,
  context: { repo: string; revision: string; endpoint: string; hasToken: boolean },
): LlmopsError {
  if (error instanceof LlmopsError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  const where = `${context.repo}@${context.revision}`;
  if (status === 401 || status === 403) {
    return usageError(
      context.hasToken
        ? `access to ${context.repo} was refused with the token in HF_TOKEN (HTTP ${status})`
        : `${context.repo} is gated or private (HTTP ${status})`,
      'HUB_ACCESS_DENIED',
      {
        hint: context.hasToken
          ? 'check the token has read access and that you accepted the model license on the Hub'
          : 'accept the model license on the Hub and set HF_TOKEN',
      },
    );
  }
  if (status === 404) {
    return usageError(`${where} was not found on ${context.endpoint} (repository, revision or file)`, 'HUB_NOT_FOUND', {
      hint: 'check the model id and --revision',
    });
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (
    (error as Error).message === 'fetch failed' ||
    (cause?.code && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNRESET/.test(cause.code))
  ) {
    return new LlmopsError(
      `cannot reach the Hub at ${context.endpoint} (${cause?.code ?? cause?.message ?? 'network error'})`,
      'HUB_UNREACHABLE',
      {
        hint: 'check the network, or set HF_ENDPOINT to a reachable mirror',
      },
    );
  }
  if (status)
    return new LlmopsError(`the Hub at ${context.endpoint} answered HTTP ${status} for ${where}`, 'HUB_ERROR');
  return new LlmopsError(
    `downloading ${where} from ${context.endpoint} failed: ${(error as Error).message}`,
    'HUB_ERROR',
    { cause: error },
  );
}
