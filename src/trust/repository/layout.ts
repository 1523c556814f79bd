/**
 * A TUF repository on disk, servable as-is by any static HTTP server:
 *
 *   metadata/N.root.json  N.targets.json  N.<role>.json  N.snapshot.json  timestamp.json
 *   targets/<dir>/<sha256>.<name>          (consistent snapshots: the hash-prefixed names)
 *   .keyward/repo.json                     expiry policy, the URI of each key that Keyward may open
 *   .keyward/staged/<role>.json            changes waiting for signatures
 *
 * Every file is written atomically; published metadata files are never rewritten, only added. No
 * symbolic link below the repository's directory is read or written through (LINK_REFUSED).
 */
import { join } from 'node:path';
import { ConfinedDirectory } from '../../confined-directory.js';
import { keywardError } from '../../errors.js';
import { KeyUri } from '../../keystore/uri/origin.js';
import { quote } from '../client/updater.js';

/** Days each role's metadata stays valid when (re)signed. */
export interface ExpiryPolicy {
  root: number;
  targets: number;
  delegations: number;
  snapshot: number;
  timestamp: number;
}

/** Sane defaults: an offline root for a year, online timestamps for a day (refresh them from cron). */
export const DEFAULT_EXPIRY: ExpiryPolicy = { root: 365, targets: 90, delegations: 90, snapshot: 7, timestamp: 1 };

export interface RepositoryConfig {
  format: 1;
  expiry: ExpiryPolicy;
  /**
   * key id → Keystore URI, for keys Keyward opens itself (snapshot, timestamp, and any given as
   * URIs). Read back as URIs from a file: they may not choose code to load (keystore/key-uri.ts).
   */
  keys: Record<string, KeyUri>;
}

const CONFIG = '.keyward/repo.json';
const STAGED = '.keyward/staged';
const stagedFile = (role: string) => `${STAGED}/${quote(role)}.json`;

export class RepositoryLayout {
  readonly dir: string;
  readonly metadataDir: string;
  readonly targetsDir: string;
  /**
   * Every file of the repository, read and written without following a link below `dir`: others
   * may write the directory (a shared server, a checkout), and a planted link would aim a write at
   * any file the operator can write (metadata/2.snapshot.json linked to ~/.bashrc) and a target
   * anywhere (targets/releases linked to another directory). `dir` itself is the operator's choice.
   */
  readonly files: ConfinedDirectory;

  constructor(dir: string) {
    this.dir = dir;
    this.metadataDir = join(dir, 'metadata');
    this.targetsDir = join(dir, 'targets');
    // Readable directories: a static web server, often another user, serves metadata/ and targets/.
    this.files = new ConfinedDirectory(dir, 'a TUF repository', { directoryMode: 0o755 });
  }

  get exists(): boolean {
    return this.files.entry(CONFIG) !== undefined;
  }

  /** Refuses a directory that already holds a repository, or published metadata. */
  checkEmpty(): void {
    if (this.exists || this.files.list('metadata').length > 0) {
      throw keywardError('TUF_REPO_EXISTS', `${this.dir} already holds a repository`, {
        hint: 'choose an empty directory; use keyward trust repo status to see the existing one',
      });
    }
  }

  create(config: RepositoryConfig): void {
    this.checkEmpty();
    for (const dir of ['metadata', 'targets', STAGED]) this.files.makeDirectory(dir);
    this.writeConfig(config);
  }

  readConfig(): RepositoryConfig {
    const file = this.files.path(CONFIG);
    const text = this.files.read(CONFIG);
    if (text === undefined) {
      throw keywardError('TUF_REPO_MISSING', `${this.dir} is not a Keyward TUF repository (no .keyward/repo.json)`, {
        hint: 'create one with keyward trust repo init',
      });
    }
    const invalid = (problem: string, cause?: unknown) =>
      keywardError('TUF_REPO_CONFIG_INVALID', `${file}: ${problem}`, {
        cause,
        hint: 'repo.json is written by keyward; if it was edited, restore it from a trusted copy',
      });
    let config: { format?: unknown; expiry?: unknown; keys?: unknown };
    try {
      config = JSON.parse(text) as typeof config;
    } catch (cause) {
      throw invalid('not valid JSON', cause);
    }
    if (typeof config !== 'object' || config === null) throw invalid('not a JSON object');
    if (config.format !== 1) throw keywardError('TUF_REPO_FORMAT', `${this.dir}: repository format ${String(config.format)} is not one this Keyward reads`);
    const expiry = config.expiry as Record<string, unknown> | undefined;
    for (const role of Object.keys(DEFAULT_EXPIRY)) {
      const days = expiry?.[role];
      if (!Number.isSafeInteger(days) || (days as number) < 1) throw invalid(`"expiry.${role}" must be a whole number of days, at least 1`);
    }
    if (typeof config.keys !== 'object' || config.keys === null || Array.isArray(config.keys)) throw invalid('"keys" must map key ids to key URIs');
    const keys: Record<string, KeyUri> = {};
    for (const [keyid, uri] of Object.entries(config.keys)) {
      if (typeof uri !== 'string') throw invalid(`"keys.${keyid}" must be a key URI`);
      try {
        keys[keyid] = KeyUri.fromFile(uri, file, `keys.${keyid}`);
      } catch (cause) {
        throw invalid(`"keys.${keyid}" is not valid: ${(cause as Error).message}`, cause);
      }
    }
    return { format: 1, expiry: expiry as unknown as ExpiryPolicy, keys };
  }

  writeConfig(config: RepositoryConfig): void {
    this.files.write(CONFIG, `${JSON.stringify(config, null, 2)}\n`);
  }

  metadataPath(file: string): string {
    return join(this.metadataDir, file);
  }

  /** metadata/`file`, or undefined when there is none (timestamp.json before the first publication). */
  readMetadataIfAny(file: string): Buffer | undefined {
    return this.files.readBytes(`metadata/${file}`);
  }

  readMetadata(file: string): Buffer {
    const bytes = this.readMetadataIfAny(file);
    if (!bytes)
      throw keywardError('TUF_METADATA_MISSING', `${this.dir}: metadata/${file} is missing`, {
        hint: 'the repository is incomplete; restore it from a backup',
      });
    return bytes;
  }

  writeMetadata(file: string, bytes: Uint8Array): void {
    this.files.write(`metadata/${file}`, bytes);
  }

  /** The newest N of metadata/N.root.json. */
  latestRootVersion(): number {
    const versions = this.files
      .list('metadata')
      .map((f) => /^(\d+)\.root\.json$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    if (versions.length === 0) throw keywardError('TUF_METADATA_MISSING', `${this.dir}: no metadata/N.root.json`);
    return Math.max(...versions);
  }

  /** Where a role's staged change lives (named in errors about it). */
  stagedPath(role: string): string {
    return this.files.path(stagedFile(role));
  }

  readStaged(role: string): Buffer | undefined {
    return this.files.readBytes(stagedFile(role));
  }

  writeStaged(role: string, bytes: Uint8Array): void {
    this.files.write(stagedFile(role), bytes);
  }

  removeStaged(role: string): void {
    this.files.remove(stagedFile(role));
  }

  stagedRoles(): string[] {
    return this.#stagedFiles().map((file) => {
      try {
        return decodeURIComponent(file.slice(0, -'.json'.length));
      } catch (cause) {
        throw keywardError(
          'TUF_STAGED_NAME',
          `${this.files.path(`${STAGED}/${file}`)} is not a staged role Keyward wrote: its name does not decode to a role name`,
          {
            cause,
            hint: 'move that file out of .keyward/staged/; Keyward names staged files after their role',
          },
        );
      }
    });
  }

  #stagedFiles(): string[] {
    return this.files.list(STAGED).filter((f) => f.endsWith('.json'));
  }

  /** Every staged file and its bytes: what restoreStaged puts back when a change fails halfway. */
  stagedState(): Map<string, Buffer> {
    return new Map(this.#stagedFiles().map((file) => [file, this.files.readBytes(`${STAGED}/${file}`)!]));
  }

  restoreStaged(state: Map<string, Buffer>): void {
    for (const file of this.#stagedFiles()) if (!state.has(file)) this.files.remove(`${STAGED}/${file}`);
    for (const [file, bytes] of state) this.files.write(`${STAGED}/${file}`, bytes);
  }

  /** A target's file under its consistent-snapshot name (spec §6.2.1: HASH.FILENAME). */
  writeTarget(path: string, sha256: string, bytes: Uint8Array): void {
    checkTargetPath(path);
    const slash = path.lastIndexOf('/');
    this.files.write(`targets/${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}`, bytes);
  }
}

/** Spec §4.6 TARGETPATH: relative, "/"-separated; and nothing that could leave targets/ on disk. */
export function checkTargetPath(path: string): void {
  if (path.length === 0 || path.split('/').some((part) => part === '..' || part === '.' || part === '') || path.includes('\\') || path.includes('\0')) {
    throw keywardError('TUF_TARGET_PATH', `target path "${path}" must be relative and "/"-separated, without empty, "." or ".." parts`);
  }
}
