/**
 * Files written atomically: a temporary file beside the target, flushed, then renamed over it, so a
 * reader (or a crash) never sees half a certificate or half a signature.
 *
 * Renaming replaces whatever has the name, so the target must be a regular file or nothing yet: a
 * FIFO, a device, a directory or a socket is refused rather than swapped for a file. The new file
 * is made in the target's directory, which must exist and be writable; a file this user may not
 * write is not replaced either (as a shell's `>` would not). `writableTarget` checks all of that,
 * naming the path and the reason, before anything is written.
 *
 * A symbolic link is followed and its target replaced (the link stays): these are the operator's
 * own paths (--out). Inside a directory others may write, links are refused instead
 * (confined-directory.ts, on replaceFile). A replaced file keeps its mode and, where the process
 * may, its owner.
 */
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsyncSync,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileProblem, KeywardError, keywardError } from './errors.js';

/** What a file that is no regular file is, for messages: "a FIFO", "a directory" … */
export function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Where a write to `path` goes (symbolic links followed) and what is there now, if anything; refused,
 * naming `shown` (the path, or the option and path that named it) and why, when Keyward could not
 * write there: the directory missing or not writable, something there that is no regular file, a
 * file this user may not write. Commands call it before any device is asked for anything
 * (cli/io.ts), and every write calls it again.
 */
export function writableTarget(path: string, shown = path): { target: string; existing: Stats | undefined } {
  let target = path;
  let existing: Stats | undefined;
  try {
    target = realpathSync(path);
    existing = statSync(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && lstatIfAny(path)?.isSymbolicLink()) {
      // As cp does: writing through a dangling link would create a file wherever it points.
      throw keywardError('OUTPUT_DANGLING_LINK', `${shown} is a symbolic link to nothing; refusing to write through it`, {
        hint: 'remove the link, or point it at an existing file',
      });
    }
    // ENOENT: nothing there yet, or no directory for it (below); ENOTDIR, EACCES: the directory check says which.
    if (!['ENOENT', 'ENOTDIR', 'EACCES'].includes(code ?? '')) {
      throw keywardError('OUTPUT_UNUSABLE', `${shown}: ${fileProblem(error)}`, { cause: error });
    }
  }
  if (existing && !existing.isFile()) {
    throw keywardError('OUTPUT_NOT_A_FILE', `${shown} is ${kindOf(existing)}; Keyward writes only regular files (it replaces them whole)`, {
      hint: 'give the path of a regular file, or of one that does not exist yet; to feed a pipe or a device, write to standard output and redirect it',
    });
  }
  checkDirectory(dirname(target), shown);
  if (existing && !accessible(target, constants.W_OK)) {
    throw keywardError('OUTPUT_NOT_WRITABLE', `${shown} is not writable for this user`, {
      hint: 'give another path, or make the file writable (chmod u+w) if it is yours to replace',
    });
  }
  return { target, existing };
}

/** The directory a file is written in: it must exist, and this user must be able to create files there (the new file is made beside the old, then renamed over it). */
function checkDirectory(dir: string, shown: string): void {
  let stats: Stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw keywardError('OUTPUT_DIRECTORY_MISSING', `${shown}: the directory ${dir} does not exist`, {
        hint: `create it (mkdir -p ${dir}), or give another path`,
      });
    }
    if (code === 'ENOTDIR') {
      throw keywardError('OUTPUT_DIRECTORY_MISSING', `${shown}: ${firstNonDirectory(dir)} is not a directory`, { hint: 'give a path in a directory' });
    }
    if (code === 'EACCES') {
      throw keywardError('OUTPUT_DIRECTORY_NOT_WRITABLE', `${shown}: this user may not enter ${dir}`, { hint: 'give a path in a directory you can write' });
    }
    throw keywardError('OUTPUT_UNUSABLE', `${shown}: ${dir}: ${fileProblem(error)}`, { cause: error });
  }
  if (!stats.isDirectory()) throw keywardError('OUTPUT_DIRECTORY_MISSING', `${shown}: ${dir} is not a directory`, { hint: 'give a path in a directory' });
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const readOnly = (error as NodeJS.ErrnoException).code === 'EROFS';
    throw keywardError(
      'OUTPUT_DIRECTORY_NOT_WRITABLE',
      readOnly ? `${shown}: the file system holding ${dir} is read-only` : `${shown}: this user may not create files in ${dir}`,
      {
        hint: 'Keyward writes a new file beside the old one and renames it over it, so it needs a directory it can write: give a path in one, or write to standard output and redirect it',
      },
    );
  }
}

/** The first component of `dir` that exists and is not a directory (for "… is not a directory"). */
function firstNonDirectory(dir: string): string {
  const parts = dir.split(sep);
  for (let i = 2; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join(sep) || sep;
    const stats = statIfAny(prefix);
    if (stats && !stats.isDirectory()) return prefix;
  }
  return dir;
}

function accessible(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

function statIfAny(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Writes `data` to `path` atomically. A new file gets `mode` (less the umask); a replaced file keeps
 * its permission bits, except that content written with a private `mode` (no group or other bits:
 * a virtual card's state) never becomes readable by others.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  const { target, existing } = writableTarget(path);
  replaceFile(target, existing, data, mode);
}

/**
 * The atomic write itself, of `target` exactly as named: a new file beside it (O_EXCL, so never
 * through a link of that name), renamed over it (rename replaces a link; it does not follow one).
 * `existing` is what `target` is now, if anything: its mode and owner are kept.
 */
export function replaceFile(target: string, existing: Stats | undefined, data: Uint8Array | string, mode: number): void {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', mode);
  } catch (error) {
    throw writeFailed(target, error);
  }
  try {
    if (existing) {
      try {
        fchownSync(fd, existing.uid, existing.gid);
      } catch {
        // Only root may give a file to someone else; the file is then ours, with the kept mode.
      }
      const sensitive = (mode & 0o077) === 0;
      fchmodSync(fd, existing.mode & (sensitive ? 0o700 : 0o777));
    }
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw writeFailed(target, error);
  }
  closeSync(fd);
  try {
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw writeFailed(target, error);
  }
  // Make the rename itself durable.
  try {
    const dirFd = openSync(dirname(target), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is already flushed.
  }
}

/** A write that failed after the checks (a full disk, a directory changed meanwhile), named by the file meant, never by the temporary one. */
function writeFailed(target: string, error: unknown): KeywardError {
  if (error instanceof KeywardError) return error;
  return keywardError('OUTPUT_WRITE_FAILED', `cannot write ${target}: ${fileProblem(error)}`, {
    cause: error,
    hint: 'nothing was replaced: a file that was there is as it was',
  });
}

/**
 * Creates `path` with `data`, flushed to disk, and refuses if anything is there already (O_EXCL: not
 * through a link either): for what must never replace a file, a ceremony's outputs and transcript.
 */
export function writeNewFile(path: string, data: Uint8Array | string, mode = 0o644): void {
  const fd = openNewFile(path, mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Opens a new file for writing; OUTPUT_EXISTS if anything has the name. */
export function openNewFile(path: string, mode = 0o644): number {
  try {
    return openSync(path, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw keywardError('OUTPUT_EXISTS', `${path} already exists: it is never written over`, { hint: 'move it away, or write to another place' });
    }
    throw writeFailed(path, error);
  }
}
