/** A throw-away self-signed certificate for a public key (signed by a software key: only its shape matters). */
import { webcrypto } from 'node:crypto';
import * as x509 from '../../../src/x509/peculiar.js';

export async function selfSignedFor(spki: Uint8Array, subject: string): Promise<Uint8Array> {
  const signer = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '0a',
      subject,
      issuer: 'CN=test issuer',
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: new x509.PublicKey(spki),
      signingKey: signer.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    },
    webcrypto,
  );
  return new Uint8Array(certificate.rawData);
}
