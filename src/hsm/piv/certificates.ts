/**
 * Certificate data objects (SP 800-73-4 Part 1 Appendix A, Table 10): 70 certificate, 71 CertInfo
 * (bit 0 set when the certificate is gzip-compressed), FE error detection code (empty).
 */
import { gunzipSync } from 'node:zlib';
import { CardResponseError } from './errors.js';
import { TAG } from './spec.js';
import { concat, tlv, tlvMap } from './tlv.js';

export function encodeCertificateObject(der: Uint8Array): Uint8Array {
  return concat(tlv(TAG.CERTIFICATE, der), tlv(TAG.CERT_INFO, Uint8Array.of(0x00)), tlv(TAG.ERROR_DETECTION, new Uint8Array()));
}

export function decodeCertificateObject(object: Uint8Array): Uint8Array {
  let map: Map<number, Uint8Array>;
  try {
    map = tlvMap(object);
  } catch (cause) {
    throw new CardResponseError('the certificate object on the card is malformed', { cause });
  }
  const certificate = map.get(TAG.CERTIFICATE);
  if (!certificate) throw new CardResponseError('the certificate object on the card has no certificate (tag 70)');
  const compressed = ((map.get(TAG.CERT_INFO)?.[0] ?? 0) & 0x01) !== 0;
  if (!compressed) return certificate;
  try {
    return new Uint8Array(gunzipSync(certificate));
  } catch (cause) {
    throw new CardResponseError('the compressed certificate on the card does not decompress', { cause });
  }
}
