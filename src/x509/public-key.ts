/**
 * Public keys compared as what they are, SubjectPublicKeyInfo DER, whichever library handed them
 * over: node:crypto (a KeyObject), x509 (a PublicKey), or the keystore and CSR checks (the DER).
 * Light on purpose (no ASN.1 library): the keystore's backends use it on every certificate import.
 */
import { KeyObject, X509Certificate } from 'node:crypto';
import type * as x509 from './peculiar.js';

export type PublicKeyLike = Uint8Array | KeyObject | x509.PublicKey;

export function spkiOf(key: PublicKeyLike): Buffer {
  if (key instanceof KeyObject) return key.export({ type: 'spki', format: 'der' });
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return Buffer.from(key.rawData);
}

/** The key a certificate (DER) certifies, as SPKI: for a device that keeps only the certificate. */
export function certificateSpki(certificateDer: Uint8Array): Buffer {
  return spkiOf(new X509Certificate(certificateDer).publicKey);
}

/** Whether two keys are one: the same SPKI, byte for byte. */
export function samePublicKey(a: PublicKeyLike, b: PublicKeyLike): boolean {
  return spkiOf(a).equals(spkiOf(b));
}
