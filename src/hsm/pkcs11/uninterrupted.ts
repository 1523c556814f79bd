/**
 * Some PKCS#11 calls rewrite a token's own record: SoftHSM 2.6 on its file object store truncates
 * `token.object` and writes it again at every C_Login (the PIN's retry flags, changed or not), and at
 * C_InitToken, C_InitPIN and C_SetPIN. A process that dies between the two leaves the file empty, and
 * the token and every key in it are lost. Ctrl-C, SIGTERM and SIGHUP that arrive during such a call
 * are held until it returns and then take effect as they would have; SIGKILL cannot be held (the
 * README's "SoftHSM's object store" says what can be done about that).
 */

const HELD: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Calls running (or just returned) with the signals held; one listener per signal serves them all. */
let holding = 0;
const arrived: NodeJS.Signals[] = [];
const hold = (signal: NodeJS.Signals) => arrived.push(signal);

/** Runs a synchronous call that rewrites token state, with termination signals held until it returns. */
export function uninterrupted<T>(call: () => T): T {
  if (holding++ === 0) for (const signal of HELD) process.on(signal, hold);
  try {
    return call();
  } finally {
    // A signal that came during the call reaches JavaScript in the poll phase of a later turn of the
    // event loop: listen until a whole turn has passed (two check phases), or it would be lost.
    setImmediate(() =>
      setImmediate(() => {
        if (--holding > 0) return;
        for (const signal of HELD) process.removeListener(signal, hold);
        const signal = arrived[0];
        arrived.length = 0;
        // With no other listener the signal's default action is due: termination, as without us.
        if (signal && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      }),
    );
  }
}
