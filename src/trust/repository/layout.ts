/**
 * A TUF repository on disk, servable as-is by any static HTTP server:
 *
 *   metadata/N.root.json  N.targets.json  N.<role>.json  N.snapshot.json  timestamp.json
 *   targets/<dir>/<sha256>.<name>          (consistent snapshots: the hash-prefixed names)
 *   .keyward/repo.json                     expiry policy, the URI of each key that Keyward may open
 *   .keyward/staged/<role>.json            changes waiting for signatures
 *
 * Every file is written atomically; published metadata files are never rewritten, only added.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../atomic-file.js';
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

export class RepositoryLayout {
  readonly dir: string;
  readonly metadataDir: string;
  readonly targetsDir: string;
  readonly #stateDir: string;
  readonly #stagedDir: string;

  constructor(dir: string) {
    this.dir = dir;
    this.metadataDir = join(dir, 'metadata');
    this.targetsDir = join(dir, 'targets');
    this.#stateDir = join(dir, '.keyward');
    this.#stagedDir = join(this.#stateDir, 'staged');
  }

  get exists(): boolean {
    return existsSync(join(this.#stateDir, 'repo.json'));
  }

  create(config: RepositoryConfig): void {
    if (this.exists || (existsSync(this.metadataDir) && readdirSync(this.metadataDir).length > 0)) {
      throw keywardError('TUF_REPO_EXISTS', `${this.dir} already holds a repository`, {
        hint: 'choose an empty directory; use keyward trust repo status to see the existing one',
      });
    }
    for (const dir of [this.metadataDir, this.targetsDir, this.#stagedDir]) mkdirSync(dir, { recursive: true });
    this.writeConfig(config);
  }

  readConfig(): RepositoryConfig {
    if (!this.exists) {
      throw keywardError('TUF_REPO_MISSING', `${this.dir} is not a Keyward TUF repository (no .keyward/repo.json)`, {
        hint: 'create one with keyward trust repo init',
      });
    }
    const file = join(this.#stateDir, 'repo.json');
    const invalid = (problem: string, cause?: unknown) =>
      keywardError('TUF_REPO_CONFIG_INVALID', `${file}: ${problem}`, {
        cause,
        hint: 'repo.json is written by keyward; if it was edited, restore it from a trusted copy',
      });
    let config: { format?: unknown; expiry?: unknown; keys?: unknown };
    try {
      config = JSON.parse(readFileSync(file, 'utf8')) as typeof config;
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
    writeFileAtomic(join(this.#stateDir, 'repo.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  metadataPath(file: string): string {
    return join(this.metadataDir, file);
  }

  readMetadata(file: string): Buffer {
    const path = this.metadataPath(file);
    if (!existsSync(path))
      throw keywardError('TUF_METADATA_MISSING', `${this.dir}: metadata/${file} is missing`, {
        hint: 'the repository is incomplete; restore it from a backup',
      });
    return readFileSync(path);
  }

  writeMetadata(file: string, bytes: Uint8Array): void {
    writeFileAtomic(this.metadataPath(file), bytes);
  }

  /** The newest N of metadata/N.root.json. */
  latestRootVersion(): number {
    const versions = readdirSync(this.metadataDir)
      .map((f) => /^(\d+)\.root\.json$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    if (versions.length === 0) throw keywardError('TUF_METADATA_MISSING', `${this.dir}: no metadata/N.root.json`);
    return Math.max(...versions);
  }

  /** Where a role's staged change lives (named in errors about it). */
  stagedPath(role: string): string {
    return join(this.#stagedDir, `${quote(role)}.json`);
  }

  readStaged(role: string): Buffer | undefined {
    const path = this.stagedPath(role);
    return existsSync(path) ? readFileSync(path) : undefined;
  }

  writeStaged(role: string, bytes: Uint8Array): void {
    writeFileAtomic(this.stagedPath(role), bytes);
  }

  removeStaged(role: string): void {
    rmSync(this.stagedPath(role), { force: true });
  }

  stagedRoles(): string[] {
    return this.#stagedFiles().map((file) => {
      try {
        return decodeURIComponent(file.slice(0, -'.json'.length));
      } catch (cause) {
        throw keywardError('TUF_STAGED_NAME', `${join(this.#stagedDir, file)} is not a staged role Keyward wrote: its name does not decode to a role name`, {
          cause,
          hint: 'move that file out of .keyward/staged/; Keyward names staged files after their role',
        });
      }
    });
  }

  #stagedFiles(): string[] {
    return readdirSync(this.#stagedDir).filter((f) => f.endsWith('.json'));
  }

  /** Every staged file and its bytes: what restoreStaged puts back when a change fails halfway. */
  stagedState(): Map<string, Buffer> {
    return new Map(this.#stagedFiles().map((file) => [file, readFileSync(join(this.#stagedDir, file))]));
  }

  restoreStaged(state: Map<string, Buffer>): void {
    for (const file of this.#stagedFiles()) if (!state.has(file)) rmSync(join(this.#stagedDir, file), { force: true });
    for (const [file, bytes] of state) writeFileAtomic(join(this.#stagedDir, file), bytes);
  }

  /** A target's file under its consistent-snapshot name (spec §6.2.1: HASH.FILENAME). */
  writeTarget(path: string, sha256: string, bytes: Uint8Array): void {
    checkTargetPath(path);
    const slash = path.lastIndexOf('/');
    const file = join(this.targetsDir, `${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, bytes);
  }
}

/** Spec §4.6 TARGETPATH: relative, "/"-separated; and nothing that could leave targets/ on disk. */
export function checkTargetPath(path: string): void {
  if (path.length === 0 || path.split('/').some((part) => part === '..' || part === '.' || part === '') || path.includes('\\') || path.includes('\0')) {
    throw keywardError('TUF_TARGET_PATH', `target path "${path}" must be relative and "/"-separated, without empty, "." or ".." parts`);
  }
}
