// A local server in the Hugging Face Hub's URL layout, for testing the Hub code path offline:
//   GET /{id}/resolve/{revision}/{file}        file bytes, X-Repo-Commit, X-Error-Code on 404
//   GET /api/models/{id}/revision/{revision}   {"id", "sha"}
// Each repo is a local folder with one fake commit; revision "main" and that commit resolve.
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export interface HubRepo {
  id: string;
  dir: string;
}

export interface HubServer {
  url: string;
  commitOf(id: string): string;
  /** Requests served, for asserting what was fetched. */
  requests: string[];
  close(): Promise<void>;
}

export function fakeCommit(id: string): string {
  return createHash('sha1').update(id).digest('hex');
}

export async function startHubServer(repos: HubRepo[], port = 0): Promise<HubServer> {
  const byId = new Map(repos.map((r) => [r.id, r]));
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.pathname);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'X-Repo-Commit, X-Error-Code, Content-Length, ETag');
    if (req.method === 'OPTIONS') return void res.writeHead(204, { 'Access-Control-Allow-Headers': 'Authorization, Range' }).end();
    const fail = (code: string, status = 404) => res.writeHead(status, { 'X-Error-Code': code, 'Content-Type': 'text/plain' }).end(code);
    const api = url.pathname.match(/^\/api\/models\/(.+)\/revision\/([^/]+)$/);
    if (api) {
      const repo = byId.get(decodeURIComponent(api[1]));
      if (!repo) return fail('RepoNotFound');
      const rev = decodeURIComponent(api[2]);
      if (rev !== 'main' && rev !== fakeCommit(repo.id)) return fail('RevisionNotFound');
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id: repo.id, sha: fakeCommit(repo.id) }));
    }
    const m = url.pathname.match(/^\/(.+)\/resolve\/([^/]+)\/(.+)$/);
    if (!m) return fail('NotFound');
    const repo = byId.get(decodeURIComponent(m[1]));
    if (!repo) return fail('RepoNotFound', 401);
    const rev = decodeURIComponent(m[2]);
    if (rev !== 'main' && rev !== fakeCommit(repo.id)) return fail('RevisionNotFound');
    const file = decodeURIComponent(m[3]);
    const full = path.join(repo.dir, file);
    if (file.includes('..') || !existsSync(full) || !statSync(full).isFile()) return fail('EntryNotFound');
    // Streamed from disk, as the Hub's CDN sends it: real-size checkpoints (over 2 GiB) are served too.
    res.writeHead(200, { 'Content-Length': statSync(full).size, 'X-Repo-Commit': fakeCommit(repo.id), ETag: `"${fakeCommit(file)}"`, 'Content-Type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    const body = createReadStream(full);
    body.on('error', () => res.destroy());
    body.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`,
    commitOf: fakeCommit,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
