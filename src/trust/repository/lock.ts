/**
 * One writer at a time. Two writers that stage, sign or publish at once each read the staged role,
 * change it and write it back: the later write drops the earlier change (two `trust sign` at once
 * lost a target). So every writer holds `.keyward/lock` while it works.
 *
 * The lock is a file made whole in one step: its content (pid, host, when) is written to a temporary
 * file that is then hard-linked to the lock's name, which fails if anything has the name (a link
 * included, never followed). It is removed when the work ends, and on process exit. A lock left by a
 * process that is gone (killed, a crash) is taken over: on this host, a pid that no longer runs, or
 * runs a process started at another time than the one that took the lock (the pid was reused). A
 * lock from another host (a shared file system) is never taken over: Keyward cannot tell whether its
 * writer runs. Taking over is itself serialised by `.keyward/lock.break`, so two writers that find
 * the same stale lock cannot both remove it and each remove the other's new one.
 */
import { closeSync, linkSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { keywardError } from '../../errors.js';
import type { ConfinedDirectory } from '../../confined-directory.js';

const LOCK = '.keyward/lock';
const BREAK = '.keyward/lock.break';

/** Who holds the lock, as its file says. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** The holder's process start time (Linux: clock ticks after boot, /proc/PID/stat), to tell a reused pid. */
  started?: string;
  /** What it runs, for people: "keyward trust sign". */
  command?: string;
}

export interface LockOptions {
  /** How long to wait for another writer, in milliseconds (default 30 s); 0 refuses at once. */
  waitMs?: number;
  /** Told once, when the lock is held by another writer and this one starts to wait. */
  onWait?: (holder: LockHolder | undefined, lockPath: string) => void;
  /** What this writer runs, written in the lock for the message another writer shows. */
  command?: string;
}

export const DEFAULT_LOCK_WAIT_MS = 30_000;
const POLL_MS = 100;
/** A lock.break older than this was left by a writer that died while taking over a lock. */
const BREAK_STALE_MS = 10_000;

/** When process `pid` started, where the system says (Linux); undefined elsewhere or when it is gone. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); fields are counted after the command name, which may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the writer that holds `holder` is certainly gone. */
function isGone(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const started = processStart(holder.pid);
  return holder.started !== undefined && started !== undefined && started !== holder.started;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isSafeInteger(holder.pid) && typeof holder.host === 'string' && typeof holder.since === 'string') return holder as LockHolder;
  } catch {
    // not a lock Keyward wrote: held by someone unknown, never taken over
  }
  return undefined;
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'an unknown writer (the lock file is not one Keyward wrote)';
  return `${holder.command ?? 'process'} ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`} holds it since ${holder.since}`;
}

/**
 * Takes the repository's lock, waiting up to `waitMs` for another writer; returns its release.
 * Refused with TUF_REPO_BUSY, naming the holder, when the wait ends first.
 */
export async function lockRepository(files: ConfinedDirectory, dir: string, options: LockOptions = {}): Promise<() => void> {
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const deadline = Date.now() + waitMs;
  const lockPath = files.path(LOCK);
  files.makeDirectory('.keyward');
  const mine = `${JSON.stringify({
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    started: processStart(process.pid),
    command: options.command,
  } satisfies LockHolder)}\n`;
  let told = false;
  for (;;) {
    if (create(files, LOCK, mine)) break;
    const text = files.read(LOCK);
    if (text === undefined) continue; // released meanwhile
    const holder = parseHolder(text);
    if (holder && isGone(holder) && takeOver(files, text)) continue;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw keywardError(
        'TUF_REPO_BUSY',
        `repository ${dir} is busy: ${describeHolder(holder)}${waitMs > 0 ? ` (waited ${Math.round(waitMs / 1000)} s)` : ''}`,
        {
          hint: `run the command again once it is done (KEYWARD_LOCK_WAIT=<seconds> waits longer); if no Keyward runs there any more, remove ${lockPath}`,
          details: { lock: lockPath, holder: holder ?? null },
        },
      );
    }
    if (!told) {
      told = true;
      options.onWait?.(holder, lockPath);
    }
    await sleep(Math.min(POLL_MS, left));
  }
  const release = () => {
    held.delete(release);
    // Only this writer's own lock: never one another writer took over after this one was presumed gone.
    if (files.read(LOCK) === mine) files.remove(LOCK);
  };
  if (held.size === 0) process.once('exit', releaseAll);
  held.add(release);
  return release;
}

/** Locks this process holds, released on exit too (process.exit() mid-command; not a kill, which takeover covers). */
const held = new Set<() => void>();

function releaseAll(): void {
  for (const release of held) {
    try {
      release();
    } catch {
      // exiting: a lock left behind is taken over by the next writer
    }
  }
}

/** Makes `file` with `content`, whole, unless something has its name; returns whether it did. */
function create(files: ConfinedDirectory, file: string, content: string): boolean {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(files.path(temp), 'wx', 0o644);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(files.path(temp), files.path(file));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(files.path(temp), { force: true });
  }
}

/** Removes a stale lock whose content is `stale`, unless another writer took it over first; false while another is at it. */
function takeOver(files: ConfinedDirectory, stale: string): boolean {
  if (!create(files, BREAK, `${JSON.stringify({ pid: process.pid, since: new Date().toISOString() })}\n`)) {
    // Another writer is taking over; one that died doing so left this behind.
    const entry = files.entry(BREAK);
    if (entry && Date.now() - entry.mtimeMs > BREAK_STALE_MS) files.remove(BREAK);
    return false;
  }
  try {
    if (files.read(LOCK) === stale) files.remove(LOCK);
    return true;
  } finally {
    files.remove(BREAK);
  }
}
