/**
 * Public keys as devices return them (a point, a modulus and exponent) →
 * SubjectPublicKeyInfo DER. node:crypto builds the SPKI from a JWK, so no DER is written by hand.
 */
import { createPublicKey } from 'node:crypto';
import { ALGORITHMS, type KeyAlgorithm } from './algorithms.js';
import { keywardError } from '../errors.js';

/**
 * A point either bare (PIV) or as a DER OCTET STRING around it (PKCS#11 §2.3.3 CKA_EC_POINT; some
 * modules return it bare too): told apart by the length the curve implies.
 */
export function unwrapEcPoint(value: Buffer, pointLength: number): Buffer {
  if (value.length === pointLength) return value;
  if (value[0] === 0x04) {
    // Short-form length (points of the curves we support are < 128 bytes).
    if (value[1] === pointLength && value.length === pointLength + 2) return value.subarray(2);
    if (value[1] === 0x81 && value[2] === pointLength && value.length === pointLength + 3) return value.subarray(3);
  }
  throw keywardError('PUBLIC_KEY_MALFORMED', `the device returned an EC point of unexpected form (${value.length} bytes)`);
}

const b64url = (b: Buffer) => b.toString('base64url');

export function ecSpki(algorithm: KeyAlgorithm, ecPoint: Buffer): Buffer {
  const info = ALGORITHMS[algorithm];
  if (info.family === 'ed25519') {
    const x = unwrapEcPoint(ecPoint, 32);
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(x) }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  }
  if (info.family !== 'ec') throw keywardError('PUBLIC_KEY_MALFORMED', `${algorithm} is not an EC algorithm`);
  const point = unwrapEcPoint(ecPoint, 1 + 2 * info.fieldBytes);
  if (point[0] !== 0x04) {
    throw keywardError('PUBLIC_KEY_MALFORMED', 'the device returned a compressed EC point; only uncompressed points are supported');
  }
  const x = point.subarray(1, 1 + info.fieldBytes);
  const y = point.subarray(1 + info.fieldBytes);
  return createPublicKey({ key: { kty: 'EC', crv: info.curve, x: b64url(x), y: b64url(y) }, format: 'jwk' }).export({
    type: 'spki',
    format: 'der',
  });
}

export function rsaSpki(modulus: Buffer, publicExponent: Buffer): Buffer {
  return createPublicKey({ key: { kty: 'RSA', n: b64url(modulus), e: b64url(publicExponent) }, format: 'jwk' }).export({
    type: 'spki',
    format: 'der',
  });
}
