/**
 * A TUF repository's directory: what is served, and beside it what must never be:
 *
 *   public/metadata/N.root.json  N.targets.json  N.<role>.json  N.snapshot.json  timestamp.json
 *   public/targets/<dir>/<sha256>.<name>   (consistent snapshots: the hash-prefixed names)
 *   .keyward/repo.json                     expiry policy, the URI of each key that Keyward may open
 *   .keyward/staged/<role>.json            changes waiting for signatures
 *   .keyward/lock                          the writer at work (lock.ts)
 *
 * A web server serves public/ and nothing else: the key URIs (token serials, slots) and the staged
 * changes are for the people who sign, not for every client. Every file is written atomically, and
 * no symbolic link below the directory is read or written through (LINK_REFUSED): others may write
 * the directory (a shared server, a checkout), and a planted link would aim a write at any file the
 * operator can write (public/metadata/2.snapshot.json linked to ~/.bashrc) and a target anywhere.
 * The directory itself is the operator's choice.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { ConfinedDirectory } from '../../confined-directory.js';
import { keywardError } from '../../errors.js';
import { KeyUri } from '../../keystore/uri/origin.js';
import { quote } from '../file-names.js';

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

/** A century: longer is a typo (and past it, dates stop being dates: "Invalid time value"). */
export const MAX_EXPIRY_DAYS = 36_500;

/** 2: served files under public/ (1: beside .keyward/, upgraded by `keyward trust repo upgrade`). */
export const REPOSITORY_FORMAT = 2;

export interface RepositoryConfig {
  format: typeof REPOSITORY_FORMAT;
  expiry: ExpiryPolicy;
  /**
   * key id → Keystore URI, for keys Keyward opens itself (snapshot, timestamp, and any given as
   * URIs). Read back as URIs from a file: they may not choose code to load (keystore/uri/origin.ts).
   */
  keys: Record<string, KeyUri>;
}

export const PUBLIC = 'public';
const CONFIG = '.keyward/repo.json';
const STAGED = '.keyward/staged';
const stagedFile = (role: string) => `${STAGED}/${quote(role)}.json`;

/** Checks one role's expiry in days, from repo.json or `--expiry`. */
export function checkExpiryDays(days: unknown, what: string): number {
  if (!Number.isSafeInteger(days) || (days as number) < 1 || (days as number) > MAX_EXPIRY_DAYS) {
    throw keywardError('TUF_EXPIRY', `${what} must be a whole number of days from 1 to ${MAX_EXPIRY_DAYS}, not ${JSON.stringify(days) ?? 'nothing'}`, {
      hint: 'e.g. root=365, targets=90, snapshot=7, timestamp=1',
    });
  }
  return days as number;
}

export class Workspace {
  readonly dir: string;
  /** The directory to serve: public/metadata and public/targets. */
  readonly publicDir: string;
  readonly files: ConfinedDirectory;

  constructor(dir: string) {
    this.dir = dir;
    this.publicDir = join(dir, PUBLIC);
    // Readable directories: a static web server, often another user, serves public/.
    this.files = new ConfinedDirectory(dir, 'a TUF repository', { directoryMode: 0o755 });
  }

  get exists(): boolean {
    return this.files.entry(CONFIG) !== undefined;
  }

  /** Refuses a directory that already holds a repository, or published metadata. */
  checkEmpty(): void {
    if (this.exists || this.files.list(`${PUBLIC}/metadata`).length > 0 || this.files.list('metadata').length > 0) {
      throw keywardError('TUF_REPO_EXISTS', `${this.dir} already holds a repository`, {
        hint: 'choose an empty directory; use keyward trust repo status to see the existing one',
      });
    }
  }

  create(config: RepositoryConfig): void {
    this.checkEmpty();
    for (const dir of [`${PUBLIC}/metadata`, `${PUBLIC}/targets`, STAGED]) this.files.makeDirectory(dir);
    this.writeConfig(config);
  }

  readConfig(): RepositoryConfig {
    const config = this.#readConfigObject();
    if (config.format === 1) {
      throw keywardError('TUF_REPO_FORMAT', `${this.dir} was made by an earlier Keyward, which kept metadata/ and targets/ beside .keyward/`, {
        hint: `keyward trust repo upgrade ${this.dir} moves them into public/; then serve ${this.publicDir} (and nothing else)`,
      });
    }
    if (config.format !== REPOSITORY_FORMAT) throw this.#unknownFormat(config.format);
    return this.#checkConfig(config);
  }

  #readConfigObject(): { format?: unknown; expiry?: unknown; keys?: unknown } {
    const text = this.files.read(CONFIG);
    if (text === undefined) {
      throw keywardError('TUF_REPO_MISSING', `${this.dir} is not a Keyward TUF repository (no .keyward/repo.json)`, {
        hint: 'create one with keyward trust repo init',
      });
    }
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (cause) {
      throw this.#invalid('not valid JSON', cause);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw this.#invalid('not a JSON object');
    return config;
  }

  #unknownFormat(format: unknown) {
    return keywardError('TUF_REPO_FORMAT', `${this.dir}: repository format ${String(format)} is not one this Keyward reads`, {
      hint: 'a newer Keyward made it: use that version',
    });
  }

  #invalid(problem: string, cause?: unknown) {
    return keywardError('TUF_REPO_CONFIG_INVALID', `${this.files.path(CONFIG)}: ${problem}`, {
      cause,
      hint: 'repo.json is written by keyward; if it was edited, restore it from a trusted copy',
    });
  }

  #checkConfig(config: { expiry?: unknown; keys?: unknown }): RepositoryConfig {
    const given = (config.expiry ?? {}) as Record<string, unknown>;
    const expiry = { ...DEFAULT_EXPIRY };
    for (const role of Object.keys(DEFAULT_EXPIRY) as Array<keyof ExpiryPolicy>) {
      try {
        expiry[role] = checkExpiryDays(given[role], `"expiry.${role}"`);
      } catch (cause) {
        throw this.#invalid((cause as Error).message, cause);
      }
    }
    if (typeof config.keys !== 'object' || config.keys === null || Array.isArray(config.keys)) throw this.#invalid('"keys" must map key ids to key URIs');
    const keys: Record<string, KeyUri> = {};
    const file = this.files.path(CONFIG);
    for (const [keyid, uri] of Object.entries(config.keys)) {
      if (typeof uri !== 'string') throw this.#invalid(`"keys.${keyid}" must be a key URI`);
      try {
        keys[keyid] = KeyUri.fromFile(uri, file, `keys.${keyid}`);
      } catch (cause) {
        throw this.#invalid(`"keys.${keyid}" is not valid: ${(cause as Error).message}`, cause);
      }
    }
    return { format: REPOSITORY_FORMAT, expiry, keys };
  }

  writeConfig(config: RepositoryConfig): void {
    this.files.write(CONFIG, `${JSON.stringify(config, null, 2)}\n`);
  }

  /**
   * Moves a format 1 repository's metadata/ and targets/ into public/ (the caller holds the lock).
   * Returns false when there was nothing to do. Clients keep working once the web server serves
   * public/ where it served the directory.
   */
  upgrade(): boolean {
    const config = this.#readConfigObject();
    if (config.format === REPOSITORY_FORMAT) return false;
    if (config.format !== 1) throw this.#unknownFormat(config.format);
    const checked = this.#checkConfig(config);
    for (const dir of ['metadata', 'targets']) {
      if (this.files.list(`${PUBLIC}/${dir}`).length > 0)
        throw keywardError('TUF_REPO_EXISTS', `${this.files.path(`${PUBLIC}/${dir}`)} is not empty: upgrade it by hand`);
      this.files.list(dir); // refuses a link
      this.files.makeDirectory(PUBLIC);
      try {
        renameSync(this.files.path(dir), this.files.path(`${PUBLIC}/${dir}`));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    this.writeConfig(checked);
    return true;
  }

  // ── staged changes ───────────────────────────────────────────────────────────────────────────

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
    return this.files
      .list(STAGED)
      .filter((f) => f.endsWith('.json'))
      .map((file) => {
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
}
