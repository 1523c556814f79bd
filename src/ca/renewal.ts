/**
 * When a node should renew: SwarmKit draws a random point between 50% and 80% of the certificate's
 * validity, so that a cluster's nodes do not all come back at once.
 */
import { randomInt } from 'node:crypto';

export const RENEWAL_WINDOW = { from: 0.5, to: 0.8 } as const;

export function renewalTime(notBefore: Date, notAfter: Date, draw: () => number = () => randomInt(0, 1_000_001) / 1_000_000): Date {
  const span = notAfter.getTime() - notBefore.getTime();
  const fraction = RENEWAL_WINDOW.from + (RENEWAL_WINDOW.to - RENEWAL_WINDOW.from) * draw();
  return new Date(notBefore.getTime() + Math.floor(span * fraction));
}
