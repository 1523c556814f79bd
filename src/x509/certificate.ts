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
