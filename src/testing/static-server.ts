/**
 * A plain static web server on 127.0.0.1 for a TUF repository directory: files as they are, 404
 * otherwise, nothing outside the directory. What any web server (nginx, S3, GitHub Pages) does,
 * so that the demo's client reads the repository as it would in production.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

export interface StaticSite {
  url: string;
  close(): Promise<void>;
}

/** Serves `root`; `intercept` may answer a request itself (tests: overrides, logging) by returning true. */
export async function serveDirectory(root: string, intercept?: (path: string, res: ServerResponse) => boolean): Promise<StaticSite> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (intercept?.(path, res)) return;
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    const body = readFileSync(file);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
