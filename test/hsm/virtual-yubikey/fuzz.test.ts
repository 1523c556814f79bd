/**
 * The virtual YubiKey against thousands of random and mutated APDUs: it never throws, never hangs,
 * always answers with a well-formed status word, and still works afterwards.
 */
import test from 'ava';
import fc from 'fast-check';
import { encodeCommand, parseResponse } from '../../../src/hsm/piv/apdu.js';
import { DEFAULT_MANAGEMENT_KEY, INS, PIV_AID, SW } from '../../../src/hsm/piv/spec.js';
import { concat, tlv } from '../../../src/hsm/piv/tlv.js';
import { VirtualYubiKey } from '../../../src/hsm/virtual-yubikey/card.js';

/** ISO 7816-4 status bytes: 61/62/63/64/65/66/67/68/69/6A/6B/6C/6D/6E/6F or 90 00. */
function wellFormed(response: Uint8Array): boolean {
  if (response.length < 2) return false;
  const { sw } = parseResponse(response);
  const sw1 = sw >> 8;
  return sw === 0x9000 || (sw1 >= 0x61 && sw1 <= 0x6f);
}

// Real commands, as the driver and the tools send them: the seeds that mutations start from.
const SEEDS: Uint8Array[] = [
  encodeCommand(0, INS.SELECT, 0x04, 0x00, PIV_AID),
  encodeCommand(0, INS.VERIFY, 0x00, 0x80, Uint8Array.from([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xff, 0xff])),
  encodeCommand(0, INS.VERIFY, 0x00, 0x80),
  encodeCommand(0, INS.CHANGE_REFERENCE_DATA, 0x00, 0x80, new Uint8Array(16).fill(0x31)),
  encodeCommand(0, INS.GENERAL_AUTHENTICATE, 0x0a, 0x9b, tlv(0x7c, tlv(0x80, new Uint8Array()))),
  encodeCommand(0, INS.GENERAL_AUTHENTICATE, 0x11, 0x9a, tlv(0x7c, concat(tlv(0x82, new Uint8Array()), tlv(0x81, new Uint8Array(32).fill(7))))),
  encodeCommand(0, INS.GENERATE_ASYMMETRIC_KEY_PAIR, 0x00, 0x9a, tlv(0xac, tlv(0x80, Uint8Array.of(0x11)))),
  encodeCommand(0, INS.GET_DATA, 0x3f, 0xff, tlv(0x5c, Uint8Array.of(0x5f, 0xc1, 0x05))),
  encodeCommand(0, INS.PUT_DATA, 0x3f, 0xff, concat(tlv(0x5c, Uint8Array.of(0x5f, 0xc1, 0x05)), tlv(0x53, new Uint8Array(40).fill(1)))),
  encodeCommand(0, INS.GET_METADATA, 0x00, 0x9b),
  encodeCommand(0, INS.ATTEST, 0x9a, 0x00),
  encodeCommand(0, INS.SET_MANAGEMENT_KEY, 0xff, 0xff, concat(Uint8Array.of(0x03), tlv(0x9b, DEFAULT_MANAGEMENT_KEY))),
  encodeCommand(0, INS.GET_RESPONSE, 0x00, 0x00, undefined, 0),
  encodeCommand(0x10, INS.PUT_DATA, 0x3f, 0xff, new Uint8Array(255).fill(0x53)),
];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('length' as const), value: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(seed: Uint8Array, mutations: Array<{ kind: string; at?: number; value?: number; bytes?: Uint8Array }>): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(seed);
  for (const m of mutations) {
    const at = bytes.length ? (m.at ?? 0) % bytes.length : 0;
    if (m.kind === 'flip' && bytes.length) bytes[at] = m.value!;
    if (m.kind === 'truncate') bytes = bytes.subarray(0, at);
    if (m.kind === 'insert') bytes = concat(bytes.subarray(0, at), m.bytes!, bytes.subarray(at));
    if (m.kind === 'length' && bytes.length > 4) bytes[4] = m.value!;
  }
  return bytes;
}

async function freshCard(): Promise<VirtualYubiKey> {
  // Touch comes at once and a missing one times out fast: no fuzz case waits long.
  return VirtualYubiKey.create({ firmware: '5.7.1' }, { touch: { kind: 'auto', delayMs: 0 }, touchTimeoutMs: 50 });
}

test('random bytes: always a well-formed status word, never an exception', async (t) => {
  const card = await freshCard();
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (apdu) => {
      const response = await card.process(apdu);
      t.true(wellFormed(response), `answer to ${Buffer.from(apdu).toString('hex')}`);
    }),
    { numRuns: 3000 },
  );
});

test('mutated real commands, in any order: well-formed answers, and the card still works', async (t) => {
  const card = await freshCard();
  const warnings: string[] = [];
  process.on('warning', (w) => warnings.push(w.message));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: SEEDS.length - 1 }), fc.array(mutation, { maxLength: 3 })), { minLength: 1, maxLength: 8 }),
      async (script) => {
        for (const [seed, mutations] of script) {
          const response = await card.process(mutate(SEEDS[seed]!, mutations));
          t.true(wellFormed(response));
        }
      },
    ),
    { numRuns: 1500 },
  );
  // Still a working card: SELECT and GET VERSION succeed.
  t.is(parseResponse(await card.process(SEEDS[0]!)).sw, SW.SUCCESS);
  t.is(parseResponse(await card.process(encodeCommand(0, INS.GET_VERSION, 0, 0))).sw, SW.SUCCESS);
  t.deepEqual(
    warnings.filter((w) => w.startsWith('virtual YubiKey: internal error')),
    [],
    'no handler threw',
  );
});

test('a chain of any length is bounded: the card refuses to buffer without end', async (t) => {
  const card = await freshCard();
  await card.process(SEEDS[0]!);
  let sw = 0;
  for (let i = 0; i < 100 && sw !== SW.NOT_ENOUGH_MEMORY; i++) {
    sw = parseResponse(await card.process(encodeCommand(0x10, INS.PUT_DATA, 0x3f, 0xff, new Uint8Array(255)))).sw;
  }
  t.is(sw, SW.NOT_ENOUGH_MEMORY);
});
