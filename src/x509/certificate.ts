/** X.509 certificates from outside (files, requests, devices): parsed, or refused with a clear error; and written out. */
import { X509Certificate } from 'node:crypto';
import { KeywardError, keywardError } from '../errors.js';
import { fromPemOrDer, toPem } from './pem.js';
import type * as x509 from './peculiar.js';

/** A certificate from PEM or DER; `what` names it in the error ("intermediate certificate"). */
export function parseCertificate(input: Uint8Array | string, what = 'certificate'): X509Certificate {
  try {
    return new X509Certificate(fromPemOrDer(input, 'CERTIFICATE'));
  } catch (cause) {
    if (cause instanceof KeywardError) throw cause;
    throw keywardError('CERTIFICATE_MALFORMED', `the ${what} is not a valid X.509 certificate`, { cause });
  }
}

export const certificatePem = (certificate: x509.X509Certificate) => toPem('CERTIFICATE', new Uint8Array(certificate.rawData));

/** The DER element at `offset`: where its content starts and where it ends (definite lengths, as DER has). */
function derElement(der: Uint8Array, offset: number): { contentStart: number; end: number } {
  const first = der[offset + 1];
  if (first === undefined) throw keywardError('CERTIFICATE_MALFORMED', 'the certificate is cut short');
  if (first < 0x80) return { contentStart: offset + 2, end: offset + 2 + first };
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
  return { contentStart: offset + 2 + count, end: offset + 2 + count + length };
}

/** The to-be-signed part of a certificate (its first inner SEQUENCE), exactly as the signature covers it. */
export function tbsBytes(der: Uint8Array): Uint8Array {
  const tbs = derElement(der, derElement(der, 0).contentStart);
  return der.subarray(derElement(der, 0).contentStart, tbs.end);
}
