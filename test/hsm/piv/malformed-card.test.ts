/**
 * The driver against a card that misbehaves: the real virtual YubiKey with its answers corrupted on
 * the way back (truncated, garbled, endless 61xx), or silent. Every case must end in a clear
 * KeywardError, within a bounded time; none may hang or throw a raw TypeError.
 */
import test from 'ava';
import fc from 'fast-check';
import { KeywardError } from '../../../src/errors.js';
import { PivSession } from '../../../src/hsm/piv/session.js';
import { InProcessTransport } from '../../../src/hsm/piv/transport/in-process.js';
import type { SmartCard } from '../../../src/hsm/piv/transport/transport.js';
import { VirtualYubiKey } from '../../../src/hsm/virtual-yubikey/card.js';
import { credentials } from './scenarios.js';

/** Passes commands to a real card and corrupts its n-th answer with `corrupt`. */
class CorruptingCard implements SmartCard {
  readonly atr: Uint8Array;
  count = 0;
  constructor(
    readonly inner: SmartCard,
    readonly at: number,
    readonly corrupt: (response: Uint8Array) => Uint8Array,
  ) {
    this.atr = inner.atr;
  }
  async process(apdu: Uint8Array): Promise<Uint8Array> {
    const response = await this.inner.process(apdu);
    return this.count++ === this.at ? this.corrupt(response) : response;
  }
  reset(): void {
    this.inner.reset();
  }
}

const corruptions = fc.oneof(
  fc.constant((r: Uint8Array) => r.subarray(0, 1)),
  fc.constant(() => new Uint8Array()),
  fc.constant((r: Uint8Array) => r.subarray(0, Math.max(2, r.length >> 1))),
  fc.uint8Array({ minLength: 2, maxLength: 40 }).map((junk) => () => junk),
  fc.integer({ min: 0, max: 255 }).map((n) => (r: Uint8Array) => Uint8Array.of(...r.subarray(0, r.length - 2), 0x61, n)),
  fc.integer({ min: 0, max: 65535 }).map((sw) => (r: Uint8Array) => Uint8Array.of(...r.subarray(0, r.length - 2), sw >> 8, sw & 0xff)),
);

test('property: any corrupted answer at any point of an operation ends in a KeywardError or success, never a crash', async (t) => {
  const base = await VirtualYubiKey.create({ firmware: '5.7.1' }, { touch: { kind: 'auto', delayMs: 0 } });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 14 }), corruptions, async (at, corrupt) => {
      const card = new CorruptingCard(base, at, corrupt);
      try {
        const session = await PivSession.open(new InProcessTransport(card), { credentials: credentials(), responseTimeoutMs: 2000 });
        await session.generateKey(0x9a, 'p256');
        await session.sign(0x9a, 'p256', Buffer.from('x'), { hash: 'SHA-256' }, await session.slotInfo(0x9a));
        await session.getCertificate(0x9a);
      } catch (error) {
        if (!(error instanceof KeywardError)) throw error;
        t.truthy(error.message);
      }
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('a card that announces more data for ever is cut off with a clear error', async (t) => {
  const base = await VirtualYubiKey.create({}, {});
  // GET METADATA answered with "16 more bytes", and every GET RESPONSE with 250 bytes and "more".
  const endless: SmartCard = {
    atr: base.atr,
    reset: () => base.reset(),
    process: async (apdu) =>
      apdu[1] === 0xf7 ? Uint8Array.of(0x61, 0x10) : apdu[1] === 0xc0 ? Uint8Array.of(...new Uint8Array(250), 0x61, 0xff) : base.process(apdu),
  };
  const session = await PivSession.open(new InProcessTransport(endless), { credentials: credentials() });
  const error = await t.throwsAsync(session.managementKeyInfo(), { instanceOf: KeywardError });
  t.is(error.code, 'CARD_RESPONSE_MALFORMED');
  t.regex(error.message, /keeps sending more data/);
});

test('a card that never answers: the driver gives up with CARD_TIMEOUT instead of hanging', async (t) => {
  const base = await VirtualYubiKey.create({}, {});
  let silent = false;
  const card: SmartCard = {
    atr: base.atr,
    reset: () => base.reset(),
    process: (apdu) => (silent ? new Promise<Uint8Array>(() => undefined) : base.process(apdu)),
  };
  const session = await PivSession.open(new InProcessTransport(card), { credentials: credentials(), responseTimeoutMs: 300 });
  silent = true;
  const started = Date.now();
  const error = await t.throwsAsync(session.pinStatus(), { instanceOf: KeywardError });
  t.is(error.code, 'CARD_TIMEOUT');
  t.true(Date.now() - started < 2000);
});
