/**
 * Where published metadata and targets go: the storage port of the writer. Today a directory any
 * static web server serves; a Notary server (which takes a publication as one upload) is another.
 * A publication is handed over whole, in the order clients must see its files.
 */
import { keywardError } from '../../errors.js';
import type { ConfinedDirectory } from '../../confined-directory.js';
import { checkTargetPath } from '../targets.js';

export interface PublishedStore {
  /** Where it is, for messages. */
  readonly location: string;
  /** A published metadata file (`N.role.json`, `timestamp.json`), or undefined when there is none. */
  readMetadata(file: string): Buffer | undefined;
  /** The newest N of N.root.json. */
  latestRootVersion(): number;
  /** Publishes metadata files, in this order (root first, timestamp last: it makes the rest visible). */
  publish(files: ReadonlyArray<readonly [file: string, bytes: Uint8Array]>): Promise<void>;
  /** Stores a target's file, before the metadata that names it is published. */
  writeTarget(path: string, sha256: string, bytes: Uint8Array): void;
}

/** Published files under `public/` of the repository's directory (no link followed: ConfinedDirectory). */
export class DirectoryStore implements PublishedStore {
  readonly #files: ConfinedDirectory;
  readonly #prefix: string;
  readonly location: string;

  constructor(files: ConfinedDirectory, prefix: string) {
    this.#files = files;
    this.#prefix = prefix;
    this.location = files.path(prefix);
  }

  readMetadata(file: string): Buffer | undefined {
    return this.#files.readBytes(`${this.#prefix}/metadata/${file}`);
  }

  latestRootVersion(): number {
    const versions = this.#files
      .list(`${this.#prefix}/metadata`)
      .map((f) => /^(\d+)\.root\.json$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    if (versions.length === 0) throw keywardError('TUF_METADATA_MISSING', `${this.location}: no metadata/N.root.json`);
    return Math.max(...versions);
  }

  async publish(files: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    for (const [file, bytes] of files) this.#files.write(`${this.#prefix}/metadata/${file}`, bytes);
  }

  /** A target's file under its consistent-snapshot name (spec §6.2.1: HASH.FILENAME). */
  writeTarget(path: string, sha256: string, bytes: Uint8Array): void {
    checkTargetPath(path);
    const slash = path.lastIndexOf('/');
    this.#files.write(`${this.#prefix}/targets/${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}`, bytes);
  }
}
