/**
 * Files inside a directory that others may be able to write (a CA directory travels on removable
 * media), read and written without following symbolic links. A link planted there would aim a write
 * at any file the operator can write (a CRL written over ~/.bashrc, a ledger created anywhere) and a
 * read at any file the operator can read (copied back onto the media by `ca intermediate install`).
 * So below the directory, every component of a path must be a directory and the file a regular
 * file, or nothing yet. The directory itself is the operator's choice (--dir) and may be a link.
 *
 * Node has no openat(): components are checked with lstat before use, and the last step never
 * follows a link (O_NOFOLLOW to read, O_EXCL and rename to write, unlink to remove). What remains is
 * a directory swapped for a link between the check and the use, by someone writing as Keyward runs.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { kindOf, replaceFile } from './atomic-file.js';
import { keywardError } from './errors.js';

type Kind = 'file' | 'directory';

function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    // ENOTDIR: the directory itself is a file; nothing is inside it.
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

export class ConfinedDirectory {
  readonly root: string;
  /** What the directory is, for messages: "a CA directory". */
  readonly #what: string;
  /** The mode of directories made here: private for a CA, readable for a repository a web server serves. */
  readonly #directoryMode: number;

  constructor(root: string, what: string, options: { directoryMode?: number } = {}) {
    this.root = resolve(root);
    this.#what = what;
    this.#directoryMode = options.directoryMode ?? 0o700;
  }

  path(file: string): string {
    return join(this.root, file);
  }

  /**
   * What is at `file` (a relative path, `/`-separated): undefined when nothing is; refused when a
   * link is on the way or at it, or something else than a directory or a regular file.
   */
  entry(file: string): Stats | undefined {
    return this.#walk(file, 'file');
  }

  /** The text of `file`, or undefined when there is none. */
  read(file: string): string | undefined {
    return this.readBytes(file)?.toString('utf8');
  }

  /** The bytes of `file` exactly (hashed, signed), or undefined when there is none. */
  readBytes(file: string): Buffer | undefined {
    if (!this.entry(file)) return undefined;
    const path = this.path(file);
    let fd: number;
    try {
      // O_NOFOLLOW: a link planted since the check is refused, not followed; O_NONBLOCK: a FIFO cannot hang the open.
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') this.entry(file); // names the link, if it is still there
      throw error;
    }
    try {
      this.#check(path, fstatSync(fd), 'file');
      return readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Writes `file` atomically (atomic-file.ts), making the directories it is in. */
  write(file: string, data: Uint8Array | string, mode = 0o644): void {
    const parts = file.split('/');
    if (parts.length > 1) this.makeDirectory(parts.slice(0, -1).join('/'));
    else mkdirSync(this.root, { recursive: true, mode: this.#directoryMode });
    replaceFile(this.path(file), this.entry(file), data, mode);
  }

  /** Makes `dir` and the directories it is in (the root too), refusing a link on the way. */
  makeDirectory(dir: string): void {
    mkdirSync(this.root, { recursive: true, mode: this.#directoryMode });
    const parts = dir.split('/');
    for (let depth = 1; depth <= parts.length; depth++) this.#makeDirectory(parts.slice(0, depth).join('/'));
  }

  /** The names in directory `dir`, or none when it does not exist; refused when it is a link or on one. */
  list(dir: string): string[] {
    if (!this.#walk(dir, 'directory')) return [];
    return readdirSync(this.path(dir));
  }

  /** Removes `file` if it is there. */
  remove(file: string): void {
    if (this.entry(file)) rmSync(this.path(file), { force: true });
  }

  #makeDirectory(dir: string): void {
    if (this.#walk(dir, 'directory')) return;
    try {
      mkdirSync(this.path(dir), { mode: this.#directoryMode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    this.#walk(dir, 'directory'); // whatever took the name meanwhile must be a directory too
  }

  #walk(file: string, kind: Kind): Stats | undefined {
    const parts = file.split('/');
    if (parts.some((part) => part === '' || part === '.' || part === '..')) throw new Error(`"${file}" is not a path inside ${this.root}`);
    let path = this.root;
    let stats: Stats | undefined;
    for (const [index, part] of parts.entries()) {
      path = join(path, part);
      stats = lstatIfAny(path);
      if (!stats) return undefined;
      this.#check(path, stats, index === parts.length - 1 ? kind : 'directory');
    }
    return stats;
  }

  #check(path: string, stats: Stats, kind: Kind): void {
    const details = { path, directory: this.root };
    if (stats.isSymbolicLink()) {
      let target = '?';
      try {
        target = readlinkSync(path);
      } catch {
        // gone again; the path is what matters
      }
      throw keywardError(
        'LINK_REFUSED',
        `${path} is a symbolic link (to ${target}): Keyward neither reads nor writes through links inside ${this.#what} (${this.root}), since others may have placed them`,
        {
          hint: `remove the link; ${this.#what} holds regular files only`,
          details: { ...details, link: target },
        },
      );
    }
    if (kind === 'directory' ? !stats.isDirectory() : !stats.isFile()) {
      throw keywardError(
        kind === 'directory' ? 'NOT_A_DIRECTORY' : 'NOT_A_REGULAR_FILE',
        `${path} is ${stats.isFile() ? 'a file' : kindOf(stats)}, where ${this.#what} keeps ${kind === 'file' ? 'a regular file' : 'a directory'}`,
        {
          hint: 'remove it, or restore the directory from a trusted copy',
          details,
        },
      );
    }
  }
}
