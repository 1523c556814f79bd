/**
 * Whether a signature may be made on the calling thread. Handing C_Sign to a libuv worker thread
 * costs about 70 µs a call (wake the thread, run, post back to the loop): with SoftHSM, whose P-256
 * signature takes about 50 µs, that hand-off is most of the time a lone signature takes. Blocking
 * the event loop is only worth it while the module is that quick, though: a network HSM, a card
 * over USB, or a 4096-bit RSA key take milliseconds, during which a server on that thread could
 * not accept, read or answer anyone. The module's name does not tell which it is (a PKCS#11 client
 * library may talk to a box across the network; one module is quick for P-256 and slow for
 * RSA-4096), so each key and mechanism is timed instead, and signs on the calling thread only
 * while its recent signatures were quick; and all keys together block the loop for at most
 * INLINE_SIGN_MAX_MS of signatures a turn (`spendInline`).
 */

/** A signature quicker than this may block the event loop: the hand-off would be a large part of it. */
export const INLINE_SIGN_MAX_MS = 1;
/** Signatures remembered: the quickest of them stands for the module (a busy machine only slows some). */
const WINDOW = 8;

export class SignLatency {
  readonly #samples: number[] = [];

  /** True when the quickest recent signature was under INLINE_SIGN_MAX_MS; false until one is timed. */
  inline(): boolean {
    return this.#samples.length > 0 && Math.min(...this.#samples) < INLINE_SIGN_MAX_MS;
  }

  /**
   * One signature's time, from C_SignInit to its result. A slow one made on the calling thread
   * forgets the quick ones: the next signature goes to a worker thread until one is quick again,
   * so a module that has become slow blocks the loop once, not for a whole window.
   */
  record(ms: number, onCallingThread: boolean): void {
    if (onCallingThread && ms >= INLINE_SIGN_MAX_MS) this.#samples.length = 0;
    this.#samples.push(ms);
    if (this.#samples.length > WINDOW) this.#samples.shift();
  }
}

/** Time spent signing on the calling thread since this turn of the event loop began. */
let spentThisTurn = 0;
let turnEndScheduled = false;

/** Whether this turn of the event loop may block for another quick signature. */
export function inlineBudgetLeft(): boolean {
  return spentThisTurn < INLINE_SIGN_MAX_MS;
}

/**
 * Counts a signature made on the calling thread against this turn's budget. False once the budget
 * is spent: the caller then hands its result back at the next turn, so that a loop of signatures
 * awaited one after another lets I/O in between, and signatures asked for meanwhile by others go
 * to worker threads.
 */
export function spendInline(ms: number): boolean {
  spentThisTurn += ms;
  if (!turnEndScheduled) {
    turnEndScheduled = true;
    setImmediate(() => {
      spentThisTurn = 0;
      turnEndScheduled = false;
    });
  }
  return inlineBudgetLeft();
}
