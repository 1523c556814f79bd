/**
 * TUF test parts: the fixture repositories (real publishers' output), a static HTTP server
 * on 127.0.0.1 that serves a directory as any web server would (and counts what it was asked),
 * and Python's securesystemslib, the canonical JSON python-tuf signs with.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { serveDirectory } from '../../src/testing/static-server.js';
import type { PcscRig } from './pcscd.js';
import { keyward as runKeyward, PROJECT_ROOT, type RunResult } from './run.js';
import { createSoftHsmStore, uniqueLabel } from './softhsm.js';
import { tempDir, type Teardown } from './temp.js';

/** Repositories real publishers wrote, kept in the project (their origin: test/fixtures/tuf-repositories/README.md). */
export function tufFixturesDir(): string {
  return join(PROJECT_ROOT, 'test', 'fixtures', 'tuf-repositories');
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
  const script =
    'import json,sys\nfrom securesystemslib.formats import encode_canonical\nprint(json.dumps([encode_canonical(d) for d in json.load(sys.stdin)]))';
  const result = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(documents), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`securesystemslib failed (apt-get install python3-securesystemslib): ${result.stderr}`);
  return JSON.parse(result.stdout) as string[];
}

/**
 * `keyward trust client`'s arguments (the conformance protocol's) for a client kept in `work`
 * (metadata/, targets/) that reads the repository served at `url`, judging expiry as of `time`.
 */
export function trustClientArgs(work: string, url: string, time?: Date) {
  const base = ['trust', 'client', '--metadata-dir', join(work, 'metadata')];
  const remote = [...base, '--metadata-url', `${url}/metadata`, ...(time ? ['--time', time.toISOString()] : [])];
  return {
    init: (rootFile: string) => [...base, 'init', rootFile],
    refresh: () => [...remote, 'refresh'],
    /** `flags`: more options (--json). */
    download: (target: string, ...flags: string[]) => [
      ...remote,
      ...['--target-name', target, '--target-base-url', `${url}/targets`, '--target-dir', join(work, 'targets')],
      ...flags,
      'download',
    ],
  };
}

/** The keys of a new repository's top-level roles (several root keys as a list). */
export interface RepositoryKeys {
  root: string | string[];
  targets: string;
  snapshot: string;
  timestamp: string;
}

export interface TrustCli {
  /** For keyward and tools: the SoftHSM store, pcscd, one PIN for token and card. */
  env: NodeJS.ProcessEnv;
  keyward(args: string[]): Promise<RunResult>;
  /** Generates a key in the token through the CLI; returns its URI. */
  key(name: string, algorithm: string): Promise<string>;
  /** Where the repository goes (not created yet). */
  dir: string;
  /** `keyward trust repo init` of `dir` with these keys; `flags`: more options (--root-threshold, --json…). */
  init(keys: RepositoryKeys, ...flags: string[]): Promise<RunResult>;
}

/**
 * A SoftHSM store with a token, made by the `keyward` binary, and a place for a repository, for CLI
 * runs; both removed at `t`'s teardown.
 */
export async function trustCliSetup(t: Teardown, rig: PcscRig): Promise<TrustCli> {
  const pin = '123456'; // the virtual YubiKey's factory PIN: one KEYWARD_PIN serves token and card
  const store = createSoftHsmStore('keyward-trust-cli-');
  t.teardown(() => store.remove());
  const env = { ...rig.env, ...store.env, KEYWARD_PIN: pin };
  const keyward = (args: string[]) => runKeyward(args, { env });
  const token = uniqueLabel('tuf');
  const tokenInit = await runKeyward(['token', 'init', '--label', token], { env: { ...env, KEYWARD_SO_PIN: `so-${pin}` } });
  if (tokenInit.code !== 0) throw new Error(tokenInit.stderr);
  const key = async (name: string, algorithm: string) => {
    const uri = `pkcs11:token=${token};object=${name}`;
    const generated = await keyward(['key', 'generate', uri, '-a', algorithm]);
    if (generated.code !== 0) throw new Error(generated.stderr);
    return uri;
  };
  const dir = join(tempDir(t, 'keyward-trust-'), 'repo');
  const init = (keys: RepositoryKeys, ...flags: string[]) =>
    keyward([
      ...['trust', 'repo', 'init', dir],
      ...[keys.root].flat().flatMap((root) => ['--root-key', root]),
      ...['--targets-key', keys.targets, '--snapshot-key', keys.snapshot, '--timestamp-key', keys.timestamp],
      ...flags,
    ]);
  return { env, keyward, key, dir, init };
}
