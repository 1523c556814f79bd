/**
 * The one PEM reader: a block or a bundle, between other labels and whatever line endings a file
 * came with, read back as the DER that was written; broken armour refused with what is wrong.
 */
import test from 'ava';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { UsageError } from '../../src/errors.js';
import { fromPemOrDer, pemBlocks, toPem } from '../../src/x509/pem.js';

const der = fc.uint8Array({ minLength: 1, maxLength: 600 });
const otherBlock = fc.tuple(fc.constantFrom('PUBLIC KEY', 'X509 CRL', 'CERTIFICATE REQUEST'), der).map(([label, bytes]) => toPem(label, bytes));

test("property: a bundle read back gives each certificate block's DER in order, whatever lies between and whatever the line endings", (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(der, fc.array(otherBlock, { maxLength: 2 }), fc.constantFrom('', 'comment line\n', '\n\n')), { maxLength: 5 }),
      fc.boolean(),
      (parts, crlf) => {
        let bundle = parts.map(([bytes, others, between]) => others.join('') + between + toPem('CERTIFICATE', bytes)).join('');
        if (crlf) bundle = bundle.replace(/\n/g, '\r\n');
        const expected = parts.map(([bytes]) => Buffer.from(bytes));
        t.deepEqual(pemBlocks(bundle, 'CERTIFICATE'), expected);
        t.deepEqual(pemBlocks(Buffer.from(bundle), 'CERTIFICATE'), expected, 'bytes as read from a file, too');
        if (expected.length > 0) t.deepEqual(fromPemOrDer(bundle, 'CERTIFICATE'), expected[0]);
      },
    ),
  );
});

test('property: any input is read or refused with a PEM error, never a crash', (t) => {
  const armoured = fc.oneof(
    fc.string(),
    fc.tuple(fc.string(), der, fc.string()).map(([a, bytes, b]) => a + toPem('CERTIFICATE', bytes).slice(0, b.length * 7) + b),
  );
  fc.assert(
    fc.property(armoured, (text) => {
      for (const read of [() => pemBlocks(text, 'CERTIFICATE'), () => fromPemOrDer(text, 'CERTIFICATE')]) {
        try {
          read();
        } catch (error) {
          t.true(error instanceof UsageError && error.code.startsWith('PEM_'), String(error));
        }
      }
    }),
  );
});

test('what OpenSSL writes is read as the DER it encodes', (t) => {
  const key = execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const pem = execFileSync('openssl', ['pkey', '-pubout'], { input: key }).toString();
  const derOut = execFileSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: key });
  t.deepEqual(fromPemOrDer(pem, 'PUBLIC KEY'), derOut);
  t.deepEqual(pemBlocks(pem + pem, 'PUBLIC KEY'), [derOut, derOut]);
  t.is(toPem('PUBLIC KEY', derOut), pem, 'and written as OpenSSL writes it');
});

test('DER is taken as it is; an empty text holds no blocks', (t) => {
  const bytes = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]);
  t.deepEqual(fromPemOrDer(bytes, 'CERTIFICATE'), bytes);
  t.deepEqual(pemBlocks('', 'CERTIFICATE'), []);
});

test('broken armour is refused saying what is wrong, by either reader', (t) => {
  const good = toPem('CERTIFICATE', Buffer.from('a certificate'));
  const truncated = good.slice(0, good.indexOf('-----END'));
  const notBase64 = good.replace(/\n[A-Za-z0-9+/]{4}/, '\n!!!!');
  for (const read of [fromPemOrDer, pemBlocks]) {
    t.throws(() => read(truncated, 'CERTIFICATE'), { instanceOf: UsageError, code: 'PEM_TRUNCATED', message: 'the PEM "CERTIFICATE" block has no END line' });
    t.throws(() => read(notBase64, 'CERTIFICATE'), {
      instanceOf: UsageError,
      code: 'PEM_MALFORMED',
      message: 'the PEM "CERTIFICATE" block is not valid base64',
    });
  }
  t.throws(() => pemBlocks(good + truncated, 'CERTIFICATE'), { code: 'PEM_TRUNCATED' }, 'a bundle whose last block is cut short');
  t.deepEqual(fromPemOrDer(good + truncated, 'CERTIFICATE'), Buffer.from('a certificate'), 'one block asked for, the first is read');
  t.throws(() => fromPemOrDer(toPem('X509 CRL', Buffer.from('a CRL')), 'CERTIFICATE'), {
    instanceOf: UsageError,
    code: 'PEM_LABEL',
    message: 'expected a PEM "CERTIFICATE" block, found "X509 CRL"',
  });
});
