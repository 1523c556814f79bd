/**
 * TUF test parts: the shared fixture repositories (real publishers' output), a static HTTP server
 * on 127.0.0.1 that serves a directory as any web server would (and counts what it was asked),
 * and Python's securesystemslib, the canonical JSON python-tuf signs with.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { serveDirectory } from '../../cli/demo/static-server.js';
import { PROJECT_ROOT } from './run.js';

/** `shared/fixtures/tuf-repositories`, found beside the checkout (or beside a parent of it). */
export function tufFixturesDir(): string {
  for (let dir = PROJECT_ROOT; ; dir = dirname(dir)) {
    const candidate = join(dir, '..', 'shared', 'fixtures', 'tuf-repositories');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('shared/fixtures/tuf-repositories not found beside the project');
  }
}

export interface FixtureRepository {
  name: string;
  dir: string;
  initialRoot: Buffer;
  targetPath: string;
  /** The moment to evaluate expiry at. */
  time: Date;
}

export function fixtureRepositories(): FixtureRepository[] {
  const base = tufFixturesDir();
  return readdirSync(base)
    .filter((name) => statSync(join(base, name)).isDirectory())
    .map((name) => {
      const dir = join(base, name);
      return {
        name,
        dir,
        initialRoot: readFileSync(join(dir, 'initial_root.json')),
        targetPath: readFileSync(join(dir, 'targetpath'), 'utf8').trim(),
        time: new Date(readFileSync(join(dir, 'faketime'), 'utf8').trim().replace(' ', 'T')),
      };
    });
}

/** Every JSON file under a directory. */
export function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(dir, f));
}

export interface StaticServer {
  url: string;
  /** Paths requested, in order (decoded). */
  requests: string[];
  /** Replaces what a path serves (bytes, or a function that writes the response itself). */
  override(path: string, body: Buffer | ((res: ServerResponse) => void) | undefined): void;
  close(): Promise<void>;
}

/** Serves `root` over HTTP on 127.0.0.1 like a plain static web server, recording requests; tests may override paths. */
export async function staticServer(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const overrides = new Map<string, Buffer | ((res: ServerResponse) => void)>();
  const site = await serveDirectory(root, (path, res) => {
    requests.push(path);
    const override = overrides.get(path);
    if (typeof override === 'function') override(res);
    else if (override) res.writeHead(200, { 'content-length': override.length }).end(override);
    return override !== undefined;
  });
  return {
    url: site.url,
    requests,
    override: (path, body) => (body === undefined ? overrides.delete(path) : overrides.set(path, body)),
    close: () => site.close(),
  };
}

/** Debian's python3 with securesystemslib (python-tuf's canonical JSON): canonical forms of JSON texts. */
export function pythonCanonical(documents: unknown[]): string[] {
  const script = 'import json,sys\nfrom securesystemslib.formats import encode_canonical\nprint(json.dumps([encode_canonical(d) for d in json.load(sys.stdin)]))';
  const result = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(documents), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`securesystemslib failed (apt-get install python3-securesystemslib): ${result.stderr}`);
  return JSON.parse(result.stdout) as string[];
}
