/** BER-TLV and APDU codecs: round trips over every length form, and clear errors for malformed input. */
import test from 'ava';
import fc from 'fast-check';
import { ApduFormatError, chainCommand, encodeCommand, encodeResponse, parseCommand, parseResponse } from '../../../src/hsm/piv/apdu.js';
import { concat, parseTlvs, tlv, TlvError } from '../../../src/hsm/piv/tlv.js';

const tag = fc.oneof(
  fc.integer({ min: 0x01, max: 0xfe }).filter((t) => (t & 0x1f) !== 0x1f),
  fc.integer({ min: 0x00, max: 0x7f }).map((b) => 0x5f00 | b),
  fc.integer({ min: 0x00, max: 0x7f }).map((b) => 0x7f00 | b),
  fc.integer({ min: 0x80, max: 0xff }).chain((b1) => fc.integer({ min: 0, max: 0x7f }).map((b2) => 0x5f0000 | (b1 << 8) | b2)),
);

test('property: TLVs of any tag form and any length (short, 81, 82, 83) parse back', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(tag, fc.uint8Array({ maxLength: 300 })), { maxLength: 6 }), (items) => {
      const encoded = concat(...items.map(([tg, value]) => tlv(tg, value)));
      const parsed = parseTlvs(encoded);
      t.deepEqual(
        parsed.map((p) => [p.tag, Buffer.from(p.value).toString('hex')]),
        items.map(([tg, v]) => [tg, Buffer.from(v).toString('hex')]),
      );
    }),
    { numRuns: 1500 },
  );
  t.is(parseTlvs(tlv(0x53, new Uint8Array(70000)))[0]!.value.length, 70000, 'three length bytes');
});

test('property: any bytes either parse as TLVs or fail with a TlvError', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const parsed = parseTlvs(bytes);
        t.is(parsed.reduce((n, p) => n + p.value.length, 0) <= bytes.length, true);
      } catch (error) {
        if (!(error instanceof TlvError)) throw error;
      }
    }),
    { numRuns: 5000 },
  );
});

test('malformed TLVs are named precisely', (t) => {
  t.throws(() => parseTlvs(Uint8Array.of(0x53, 0x05, 0x01)), { instanceOf: TlvError, message: /claims 5 bytes but only 1 remain/ });
  t.throws(() => parseTlvs(Uint8Array.of(0x53, 0x84, 0, 0, 0, 1)), { instanceOf: TlvError, message: /unsupported length byte 0x84/ });
  t.throws(() => parseTlvs(Uint8Array.of(0x5f, 0xc1)), { instanceOf: TlvError, message: /truncated tag/ });
});

test("property: command APDUs of every ISO case round-trip through the card's parser", (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 255 }),
      fc.option(fc.integer({ min: 0, max: 255 })),
      (ins, p1, data, le) => {
        const parsed = parseCommand(encodeCommand(0x00, ins, p1, 0x80, data, le ?? undefined));
        t.is(parsed.ins, ins);
        t.is(parsed.p1, p1);
        t.deepEqual(Buffer.from(parsed.data), Buffer.from(data));
        t.is(parsed.ne, le === null ? 0 : le === 0 ? 256 : le);
      },
    ),
    { numRuns: 2000 },
  );
  const extended = parseCommand(Uint8Array.of(0x00, 0xdb, 0x3f, 0xff, 0x00, 0x01, 0x00, ...new Uint8Array(256), 0x00, 0x00));
  t.is(extended.data.length, 256);
  t.is(extended.ne, 65536);
  t.true(extended.extended);
});

test('command chaining splits long data into 255-byte blocks, CLA 10 on all but the last', (t) => {
  const blocks = chainCommand(0x00, 0xdb, 0x3f, 0xff, new Uint8Array(600).fill(7));
  t.deepEqual(
    blocks.map((b) => [b[0], b[4]]),
    [
      [0x10, 255],
      [0x10, 255],
      [0x00, 90],
    ],
  );
  t.deepEqual(Buffer.concat(blocks.map((b) => parseCommand(b).data)), Buffer.alloc(600, 7));
});

test('malformed APDUs and responses get format errors', (t) => {
  t.throws(() => parseCommand(Uint8Array.of(0, 0xa4, 4)), { instanceOf: ApduFormatError });
  t.throws(() => parseCommand(Uint8Array.of(0, 0xa4, 4, 0, 5, 1, 2)), { instanceOf: ApduFormatError, message: /Lc says 5 bytes/ });
  t.throws(() => parseResponse(Uint8Array.of(0x90)), { instanceOf: ApduFormatError });
  t.deepEqual(parseResponse(encodeResponse(Uint8Array.of(1, 2), 0x6a82)), { data: Uint8Array.of(1, 2), sw: 0x6a82 });
});
