import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInFile {
  path: string;
  content: Buffer;
  /** Stored with Git LFS (sha256 oid); the server can be told to corrupt its bytes. */
  lfs?: boolean;
}

export interface StandInRepo {
  id: string;
  /** revision name → commit sha → files */
  revisions: Record<string, string>;
  commits: Record<string, StandInFile[]>;
  gated?: boolean;
  /** Paths whose served bytes differ from their recorded sha256. */
  corrupt?: string[];
}

export interface HubStandIn {
  url: string;
  /** Every request: method, path, and whether it carried the expected bearer token. */
  requests: Array<{ method: string; url: string; authorized: boolean }>;
  close(): Promise<void>;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const gitOid = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

/**
 * A loopback server speaking the Hub endpoints @huggingface/hub calls: model info by revision, tree, paths-info and
 * resolve (with ETag / X-Repo-Commit / X-Linked-Etag / X-Linked-Size and Range support).
 */
export async function startHubStandIn(repos: StandInRepo[], token: string): Promise<HubStandIn> {
  const requests: HubStandIn['requests'] = [];
  const byId = new Map(repos.map((repo) => [repo.id, repo]));

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const authorized = req.headers.authorization === `Bearer ${token}`;
    requests.push({ method: req.method ?? 'GET', url: url.pathname, authorized });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree|paths-info)\/([^/]+)(?:\/(.*))?$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repo = byId.get(decodeURIComponent(api?.[1] ?? resolve?.[1] ?? ''));
    if (!repo) return json(404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
    if (repo.gated && !authorized)
      return json(
        401,
        {
          error: `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it.`,
        },
        { 'x-error-code': 'GatedRepo' },
      );
    const revision = decodeURIComponent(api?.[3] ?? resolve?.[2] ?? 'main');
    const commit = repo.commits[revision] ? revision : repo.revisions[revision === 'HEAD' ? 'main' : revision];
    const files = commit ? repo.commits[commit] : undefined;
    if (!commit || !files)
      return json(404, { error: `Invalid rev id: ${revision}` }, { 'x-error-code': 'RevisionNotFound' });
    const entry = (file: StandInFile) => ({
      type: 'file',
      path: file.path,
      size: file.content.length,
      oid: gitOid(file.content),
      ...(file.lfs ? { lfs: { oid: sha256(file.content), size: file.content.length, pointerSize: 134 } } : {}),
      lastCommit: { id: commit, title: 'stand-in', date: '2026-01-01T00:00:00.000Z' },
    });

    if (api?.[2] === 'revision') {
      return json(200, {
        _id: `id-${repo.id}`,
        id: repo.id,
        sha: commit,
        private: false,
        gated: repo.gated ? 'manual' : false,
        downloads: 0,
        likes: 0,
        lastModified: '2026-01-01T00:00:00.000Z',
        siblings: files.map((f) => ({ rfilename: f.path })),
      });
    }
    if (api?.[2] === 'tree') return json(200, files.map(entry));
    if (api?.[2] === 'paths-info') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const paths = (JSON.parse(body || '{}') as { paths?: string[] }).paths ?? [];
        json(200, files.filter((f) => paths.includes(f.path)).map(entry));
      });
      return;
    }
    if (resolve) {
      const file = files.find((f) => f.path === decodeURIComponent(resolve[3]!));
      if (!file) return json(404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
      let content = file.content;
      if (repo.corrupt?.includes(file.path)) {
        content = Buffer.from(content);
        content[0] = content[0]! ^ 0xff;
      }
      const etag = file.lfs ? sha256(file.content) : gitOid(file.content);
      const headers: Record<string, string> = {
        etag: `"${etag}"`,
        'x-repo-commit': commit,
        'accept-ranges': 'bytes',
        'content-type': 'application/octet-stream',
        ...(file.lfs ? { 'x-linked-etag': `"${etag}"`, 'x-linked-size': String(content.length) } : {}),
      };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), content.length - 1) : content.length - 1;
        res.writeHead(206, {
          ...headers,
          'content-range': `bytes ${start}-${end}/${content.length}`,
          'content-length': String(end - start + 1),
        });
        return res.end(content.subarray(start, end + 1));
      }
      res.writeHead(200, { ...headers, 'content-length': String(content.length) });
      return res.end(content);
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
