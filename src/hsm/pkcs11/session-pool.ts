/**
 * Sessions for operations in flight. PKCS#11 allows one active operation per session, so concurrent
 * signatures need a session each; sessions are opened on demand up to a limit and then reused.
 */
import pkcs11js from 'pkcs11js';
import { pkcs11Call } from './errors.js';

export class SessionPool {
  readonly #lib: pkcs11js.PKCS11;
  readonly #slot: Buffer;
  readonly #max: number;
  readonly #token: string;
  readonly #idle: Buffer[] = [];
  readonly #waiters: Array<(session: Buffer) => void> = [];
  #open = 0;
  /** Sessions handed out and not yet given back: operations in flight. */
  #busy = 0;

  constructor(lib: pkcs11js.PKCS11, slot: Buffer, max: number, tokenLabel: string) {
    this.#lib = lib;
    this.#slot = slot;
    this.#max = Math.max(1, max);
    this.#token = tokenLabel;
  }

  /** A session for one operation; give it back with `release` (or `discard` if it may be unusable). */
  acquire(): Promise<Buffer> {
    const session = this.#take();
    if (session) return Promise.resolve(session);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** A session now, but only when no other operation is in flight on this token (else undefined). */
  acquireIfIdle(): Buffer | undefined {
    return this.#busy === 0 ? this.#take() : undefined;
  }

  #take(): Buffer | undefined {
    let session = this.#idle.pop();
    if (!session && this.#open < this.#max) {
      session = pkcs11Call({ operation: 'open a session', token: this.#token }, () =>
        this.#lib.C_OpenSession(this.#slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION),
      );
      this.#open++;
    }
    if (session) this.#busy++;
    return session;
  }

  release(session: Buffer): void {
    const waiter = this.#waiters.shift();
    if (waiter) return waiter(session);
    this.#busy--;
    this.#idle.push(session);
  }

  /**
   * Closes a session whose state is unknown after an error (an operation may still be active on it),
   * and lets a waiter open a fresh one.
   */
  discard(session: Buffer): void {
    try {
      this.#lib.C_CloseSession(session);
    } catch {
      // Already invalid: nothing to close.
    }
    this.#open--;
    this.#busy--;
    const waiter = this.#waiters.shift();
    if (waiter) void this.acquire().then(waiter);
  }

  closeAll(): void {
    for (const session of this.#idle.splice(0)) {
      try {
        this.#lib.C_CloseSession(session);
      } catch {
        // The module may already have closed it (token removed, re-initialised).
      }
    }
    this.#open = 0;
  }
}
