/**
 * Files written atomically: a temporary file beside the target, flushed, then renamed over it, so a
 * reader (or a crash) never sees half a certificate or half a signature.
 *
 * Renaming replaces whatever has the name, so the target must be a regular file or nothing yet: a
 * FIFO, a device, a directory or a socket is refused rather than swapped for a file. A symbolic
 * link is followed and its target replaced (the link stays): these are the operator's own paths
 * (--out). Inside a directory others may write, links are refused instead (confined-directory.ts,
 * on replaceFile). A replaced file keeps its mode and, where the process may, its owner.
 */
import { closeSync, fchmodSync, fchownSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { keywardError } from './errors.js';

/** What a file that is no regular file is, for messages: "a FIFO", "a directory" … */
export function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The file a write to `path` replaces (symbolic links followed), and what is there now, if anything. */
function replacementTarget(path: string): { target: string; existing: Stats | undefined } {
  let target: string;
  try {
    target = realpathSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (lstatIfAny(path)?.isSymbolicLink()) {
      // As cp does: writing through a dangling link would create a file wherever it points.
      throw keywardError('OUTPUT_DANGLING_LINK', `${path} is a symbolic link to nothing; refusing to write through it`, {
        hint: 'remove the link, or point it at an existing file',
      });
    }
    return { target: path, existing: undefined };
  }
  const existing = statSync(target);
  if (!existing.isFile()) {
    throw keywardError('OUTPUT_NOT_A_FILE', `${path} is ${kindOf(existing)}; Keyward writes only regular files (it replaces them whole)`, {
      hint: 'give the path of a regular file, or of one that does not exist yet; to feed a pipe or a device, write to standard output and redirect it',
    });
  }
  return { target, existing };
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
  const { target, existing } = replacementTarget(path);
  replaceFile(target, existing, data, mode);
}

/**
 * The atomic write itself, of `target` exactly as named: a new file beside it (O_EXCL, so never
 * through a link of that name), renamed over it (rename replaces a link; it does not follow one).
 * `existing` is what `target` is now, if anything: its mode and owner are kept.
 */
export function replaceFile(target: string, existing: Stats | undefined, data: Uint8Array | string, mode: number): void {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', mode);
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
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
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
