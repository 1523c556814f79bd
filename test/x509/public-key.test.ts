/** One key is one key whichever library hands it over; two keys are two, whatever their shape. */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as x509 from '../../src/x509/peculiar.js';
import { fromPemOrDer } from '../../src/x509/pem.js';
import { certificateSpki, samePublicKey, spkiOf } from '../../src/x509/public-key.js';

/** A certificate OpenSSL makes, and the public key it prints for it. */
function opensslCertificate(algorithm: string[]): { der: Buffer; spki: Buffer } {
  const der = execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', ...algorithm, '-nodes', '-keyout', '/dev/null', '-subj', '/CN=key test', '-days', '1', '-outform', 'DER'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const pem = execFileSync('openssl', ['x509', '-inform', 'DER', '-pubkey', '-noout'], { input: der });
  return { der, spki: fromPemOrDer(pem, 'PUBLIC KEY') };
}

test("the key of a certificate, as DER, as node:crypto's KeyObject and as x509's PublicKey, is the key OpenSSL prints", (t) => {
  for (const algorithm of [['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['ed25519'], ['rsa:2048']]) {
    const { der, spki } = opensslCertificate(algorithm);
    const forms = [spki, new X509Certificate(der).publicKey, new x509.X509Certificate(der).publicKey, certificateSpki(der)];
    for (const a of forms) {
      t.deepEqual(spkiOf(a), spki, algorithm[0]);
      for (const b of forms) t.true(samePublicKey(a, b), algorithm[0]);
    }
  }
});

test('another key is another key, in any form', (t) => {
  const one = opensslCertificate(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const other = opensslCertificate(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  t.false(samePublicKey(one.spki, other.spki));
  t.false(samePublicKey(new X509Certificate(one.der).publicKey, new x509.X509Certificate(other.der).publicKey));
  t.false(samePublicKey(new Uint8Array(one.spki.subarray(0, -1)), one.spki), 'a prefix is not the key');
});
