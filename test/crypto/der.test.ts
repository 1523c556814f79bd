/** The direct DER reader and writer against asn1js, the ASN.1 library the rest of Keyward encodes with. */
import test from 'ava';
import fc from 'fast-check';
import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Time } from '@peculiar/asn1-x509';
import { derEncode, derOid, derTime, oidToString, readChildren, readDer, readTagged, TAG } from '../../src/crypto/der.js';

const bytes = (buffer: ArrayBuffer) => new Uint8Array(buffer);

test('property: an OCTET STRING of any length is what asn1js encodes, and reads back whole', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(n).fill(7)),
      ),
      (value) => {
        const der = derEncode(TAG.OCTET_STRING, value);
        t.deepEqual(der, bytes(new asn1js.OctetString({ valueHex: value }).toBER()));
        const element = readDer(der, 0);
        t.deepEqual(element && { tag: element.tag, length: element.end - element.start, end: element.end }, {
          tag: TAG.OCTET_STRING,
          length: value.length,
          end: der.length,
        });
      },
    ),
    { numRuns: 100 },
  );
});

test('property: OIDs encode as asn1js encodes them and decode back', (t) => {
  const oid = fc
    .tuple(fc.constantFrom(0, 1, 2), fc.nat({ max: 39 }), fc.array(fc.nat({ max: 2 ** 40 }), { maxLength: 8 }))
    .map(([a, b, rest]) => [a, b, ...rest].join('.'));
  fc.assert(
    fc.property(oid, (dotted) => {
      const der = derOid(dotted);
      t.deepEqual(der, bytes(new asn1js.ObjectIdentifier({ value: dotted }).toBER()));
      t.is(oidToString(der.subarray(2)), dotted);
    }),
    { numRuns: 500 },
  );
});

test('property: a certificate time is what asn1-schema encodes (UTCTime through 2049, GeneralizedTime after)', (t) => {
  fc.assert(
    fc.property(fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (date) => {
      t.deepEqual(derTime(date), bytes(AsnConvert.serialize(new Time(date))));
    }),
    { numRuns: 500 },
  );
});

test('what is not DER is not read: indefinite or padded lengths, multi-byte tags, overruns, leftovers', (t) => {
  const read = (hex: string) => readDer(Buffer.from(hex, 'hex'), 0);
  t.truthy(read('0400'));
  t.truthy(read('048180' + '00'.repeat(0x80)), 'a long form where it is needed');
  t.is(read('0480'), undefined, "BER's indefinite length");
  t.is(read('048105' + '00'.repeat(5)), undefined, 'a long form for a short length');
  t.is(read('04820005' + '00'.repeat(5)), undefined, 'a length with a leading zero octet');
  t.is(read('1f0100'), undefined, 'a multi-byte tag');
  t.is(read('0405000000'), undefined, 'contents past the end');
  t.is(read('04'), undefined, 'no length');
  const sequence = Buffer.from('3006020101020102', 'hex');
  t.deepEqual(
    readChildren(sequence, readTagged(sequence, 0, TAG.SEQUENCE)!)?.map((e) => e.tag),
    [TAG.INTEGER, TAG.INTEGER],
  );
  const short = Buffer.from('3005020101020102', 'hex');
  t.is(readChildren(short, readDer(short, 0, short.length)!), undefined, 'a child that overruns its parent');
  t.is(readTagged(sequence, 0, TAG.SET), undefined, 'another tag');
  t.is(oidToString(Buffer.from('2a8001', 'hex')), undefined, 'an arc padded with 0x80');
  t.is(oidToString(Buffer.from('2a86', 'hex')), undefined, 'an unfinished arc');
});
