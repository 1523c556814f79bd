/**
 * The virtual YubiKey's touch sensor. A real card blocks inside a touch-required operation until the
 * gold contact is touched, or answers 6982 after about 15 s. Here the touch comes either by itself
 * after a delay (`auto`, a patient user) or from outside (`manual`: `keyward yubikey virtual touch`
 * or `touch()`), and times out the same way.
 */

import { TOUCH_TIMEOUT_MS } from '../piv/spec.js';

export type TouchMode = { kind: 'auto'; delayMs: number } | { kind: 'manual' };

/** A cached touch (touch policy "cached") stays good for 15 s. */
export const TOUCH_CACHE_MS = 15_000;

export class TouchSensor {
  mode: TouchMode;
  readonly timeoutMs: number;
  #lastTouch = Number.NEGATIVE_INFINITY;
  #waiters: Array<() => void> = [];
  /** Called when the card starts waiting for a touch (for logs). */
  onWait?: () => void;

  constructor(mode: TouchMode = { kind: 'auto', delayMs: 200 }, timeoutMs = TOUCH_TIMEOUT_MS) {
    this.mode = mode;
    this.timeoutMs = timeoutMs;
  }

  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  /** A finger on the contact: satisfies whoever waits; returns whether anyone did. */
  touch(): boolean {
    this.#lastTouch = performance.now();
    const waiters = this.#waiters.splice(0);
    for (const resolve of waiters) resolve();
    return waiters.length > 0;
  }

  /** Waits for a touch as the card would; false when it times out. */
  async await(policy: 'always' | 'cached'): Promise<boolean> {
    if (policy === 'cached' && performance.now() - this.#lastTouch < TOUCH_CACHE_MS) return true;
    this.onWait?.();
    return new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (touched: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timeout);
        clearTimeout(auto);
        this.#waiters = this.#waiters.filter((w) => w !== onTouch);
        resolve(touched);
      };
      const onTouch = () => finish(true);
      this.#waiters.push(onTouch);
      const timeout = setTimeout(() => finish(false), this.timeoutMs);
      const auto = this.mode.kind === 'auto' ? setTimeout(() => this.touch(), this.mode.delayMs) : undefined;
    });
  }
}
