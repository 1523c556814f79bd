import test from 'ava';
import fc from 'fast-check';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { ecdsaDerToRaw, ecdsaRawToDer } from '../../src/crypto/signature-encoding.js';

test('property: raw r‖s → DER → raw is the identity, for P-256 and P-384 sizes', (t) => {
  fc.assert(
    fc.property(fc.constantFrom(32, 48), fc.uint8Array({ minLength: 96, maxLength: 96 }), (size, bytes) => {
      const raw = bytes.subarray(0, size * 2);
      t.deepEqual([...ecdsaDerToRaw(ecdsaRawToDer(raw), size)], [...raw]);
    }),
    { numRuns: 2000 },
  );
});

test('DER made from a raw signature verifies with node:crypto as DER, and back', (t) => {
  for (const namedCurve of ['P-256', 'P-384']) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
    for (let i = 0; i < 50; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      t.true(verify('sha256', data, publicKey, Buffer.from(ecdsaRawToDer(raw))));
      const der = sign('sha256', data, privateKey);
      const back = ecdsaDerToRaw(der, namedCurve === 'P-256' ? 32 : 48);
      t.true(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, back));
    }
  }
});

test('malformed signatures get a clear error', (t) => {
  t.throws(() => ecdsaRawToDer(new Uint8Array(63)), { message: /even length/ });
  t.throws(() => ecdsaDerToRaw(new Uint8Array([0x30, 0x05, 0x02]), 32), { message: /not valid DER/ });
  const good = ecdsaRawToDer(new Uint8Array(64).fill(0x11));
  t.throws(() => ecdsaDerToRaw(Uint8Array.of(...good, 0x00), 32), { message: /not one SEQUENCE/ }, 'trailing bytes');
  t.throws(() => ecdsaDerToRaw(Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x81), 32), { message: /negative/ });
  t.throws(() => ecdsaDerToRaw(Uint8Array.of(0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01), 32), { message: /two INTEGERs/ });
  t.throws(() => ecdsaDerToRaw(ecdsaRawToDer(new Uint8Array(96).fill(0x7f)), 32), { message: /49 bytes, more than 32|48 bytes, more than 32/ });
});

test('property: any bytes give a raw signature or a SIGNATURE_MALFORMED error, nothing else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(32, 48), (bytes, size) => {
      const der = bytes.length > 1 && bytes[0]! % 2 === 0 ? Uint8Array.of(0x30, bytes.length, ...bytes) : bytes;
      try {
        t.is(ecdsaDerToRaw(der, size).length, size * 2);
      } catch (error) {
        t.is((error as { code?: string }).code, 'SIGNATURE_MALFORMED');
      }
    }),
    { numRuns: 3000 },
  );
});
