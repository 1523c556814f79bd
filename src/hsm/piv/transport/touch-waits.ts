/**
 * Touches a card behind pcscd is waiting for, recorded where the next Keyward can read them.
 *
 * A YubiKey asked for a touch answers only when touched or after about 15 s, and pcscd keeps the
 * card held for the program that asked until the card answers, even when that program is gone
 * (Ctrl-C at "Touch your YubiKey…"). Meanwhile every other program is refused with a sharing
 * violation, which reads like gpg's scdaemon holding the card. So while the touch notice shows,
 * Keyward notes the reader, its process and since when; the note goes when the card answers. The
 * next command that finds the card held reads it and can say what is going on.
 *
 * Notes live in the user's runtime directory ($XDG_RUNTIME_DIR, else /run/user/<uid>: private to
 * the user, emptied at logout), never in a shared temporary directory. Without one nothing is
 * noted, and the message names the likely causes instead. A note is advice for a message only:
 * one that cannot be read or makes no sense is ignored.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOUCH_TIMEOUT_MS } from '../spec.js';

/** A touch a card is (or was) waiting for. */
export interface TouchWait {
  /** The process that asked for it. */
  pid: number;
  /** When the card started waiting (ms since the epoch). */
  since: number;
  /** Whether that process still runs (else it was interrupted). */
  running: boolean;
  /** How long the card may still wait before it gives up (at most its touch timeout). */
  remainingMs: number;
}

function runtimeDirectory(env: NodeJS.ProcessEnv): string | undefined {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'keyward');
  const perUser = process.getuid ? `/run/user/${process.getuid()}` : undefined;
  return perUser && existsSync(perUser) ? join(perUser, 'keyward') : undefined;
}

function noteFile(reader: string, env: NodeJS.ProcessEnv): string | undefined {
  const dir = runtimeDirectory(env);
  return dir && join(dir, `touch-${createHash('sha256').update(reader).digest('hex').slice(0, 16)}.json`);
}

/** Notes that the card in `reader` waits for a touch this process asked for; the returned function removes the note. */
export function noteTouchWait(reader: string, since = Date.now(), env: NodeJS.ProcessEnv = process.env): () => void {
  const file = noteFile(reader, env);
  if (!file) return () => undefined;
  try {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${JSON.stringify({ reader, pid: process.pid, since })}\n`, { mode: 0o600 });
  } catch {
    return () => undefined; // no note, no harm: the message falls back to the likely causes
  }
  return () => rmSync(file, { force: true });
}

/** The touch the card in `reader` may still be waiting for, from a note another process left; undefined when there is none (or it is over). */
export function touchWaitOn(reader: string, now = Date.now(), env: NodeJS.ProcessEnv = process.env): TouchWait | undefined {
  const file = noteFile(reader, env);
  if (!file) return undefined;
  let note: { reader?: unknown; pid?: unknown; since?: unknown };
  try {
    note = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const { pid, since } = note;
  if (note.reader !== reader || !Number.isSafeInteger(pid) || (pid as number) <= 0 || typeof since !== 'number' || since > now) return undefined;
  const remainingMs = since + TOUCH_TIMEOUT_MS - now;
  if (remainingMs <= 0) {
    // The card gave up long ago: whatever holds it now, it is not that touch.
    rmSync(file, { force: true });
    return undefined;
  }
  return { pid: pid as number, since, running: isRunning(pid as number), remainingMs };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
