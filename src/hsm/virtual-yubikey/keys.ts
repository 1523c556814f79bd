/**
 * The emulated secure element's cryptography: key generation, import, the private-key operations
 * a PIV card performs (ECDSA over a given hash, raw RSA, Ed25519, ECDH), all with real algorithms.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, privateDecrypt, sign, constants, type KeyObject } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { ALGORITHM } from '../piv/spec.js';
import { concat, tlv } from '../piv/tlv.js';

export interface CardKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export const SIGNING_ALGORITHMS = new Set<number>([
  ALGORITHM.RSA1024,
  ALGORITHM.RSA2048,
  ALGORITHM.RSA3072,
  ALGORITHM.RSA4096,
  ALGORITHM.ECCP256,
  ALGORITHM.ECCP384,
  ALGORITHM.ED25519,
]);
const RSA_BITS: Record<number, number> = { [ALGORITHM.RSA1024]: 1024, [ALGORITHM.RSA2048]: 2048, [ALGORITHM.RSA3072]: 3072, [ALGORITHM.RSA4096]: 4096 };
const EC_CURVES: Record<number, { name: string; curve: typeof p256; field: number }> = {
  [ALGORITHM.ECCP256]: { name: 'P-256', curve: p256, field: 32 },
  [ALGORITHM.ECCP384]: { name: 'P-384', curve: p384, field: 48 },
};

export const rsaBits = (algorithm: number) => RSA_BITS[algorithm];
export const ecField = (algorithm: number) => EC_CURVES[algorithm]?.field;

export function generateCardKey(algorithm: number): CardKey {
  if (RSA_BITS[algorithm]) return generateKeyPairSync('rsa', { modulusLength: RSA_BITS[algorithm]!, publicExponent: 65537 });
  if (EC_CURVES[algorithm]) return generateKeyPairSync('ec', { namedCurve: EC_CURVES[algorithm]!.name });
  if (algorithm === ALGORITHM.ED25519) return generateKeyPairSync('ed25519');
  if (algorithm === ALGORITHM.X25519) return generateKeyPairSync('x25519');
  throw new Error(`no key generation for algorithm 0x${algorithm.toString(16)}`);
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

function bigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function bigintBytes(value: bigint): Uint8Array {
  const hex = value.toString(16);
  return Uint8Array.from(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return ((oldS % m) + m) % m;
}

/** IMPORT KEY components (Yubico): RSA 01 p, 02 q, 03 dp, 04 dq, 05 qinv; EC 06 d; Ed25519 07; X25519 08. */
export function importCardKey(algorithm: number, components: Map<number, Uint8Array>): CardKey {
  if (RSA_BITS[algorithm]) {
    const [p, q, dp, dq, qi] = [1, 2, 3, 4, 5].map((t) => components.get(t));
    if (!p || !q || !dp || !dq || !qi) throw new Error('RSA import needs p, q, dp, dq and qinv');
    const e = 65537n;
    const P = bigint(p);
    const Q = bigint(q);
    const n = P * Q;
    const d = modInverse(e, (P - 1n) * (Q - 1n));
    if (n.toString(2).length !== RSA_BITS[algorithm]) throw new Error('RSA key size does not match the algorithm');
    const privateKey = createPrivateKey({
      key: {
        kty: 'RSA',
        n: b64url(bigintBytes(n)),
        e: b64url(bigintBytes(e)),
        d: b64url(bigintBytes(d)),
        p: b64url(p),
        q: b64url(q),
        dp: b64url(dp),
        dq: b64url(dq),
        qi: b64url(qi),
      },
      format: 'jwk',
    });
    return { privateKey, publicKey: createPublicKey(privateKey) };
  }
  const ec = EC_CURVES[algorithm];
  if (ec) {
    const d = components.get(6);
    if (!d || d.length !== ec.field) throw new Error('EC import needs the private scalar (tag 06)');
    const point = ec.curve.getPublicKey(d, false);
    const privateKey = createPrivateKey({
      key: { kty: 'EC', crv: ec.name, d: b64url(d), x: b64url(point.subarray(1, 1 + ec.field)), y: b64url(point.subarray(1 + ec.field)) },
      format: 'jwk',
    });
    return { privateKey, publicKey: createPublicKey(privateKey) };
  }
  if (algorithm === ALGORITHM.ED25519 || algorithm === ALGORITHM.X25519) {
    const seed = components.get(algorithm === ALGORITHM.ED25519 ? 7 : 8);
    if (!seed || seed.length !== 32) throw new Error('a 32-byte private key is needed');
    const prefix = algorithm === ALGORITHM.ED25519 ? '302e020100300506032b657004220420' : '302e020100300506032b656e04220420';
    const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from(prefix, 'hex'), seed]), format: 'der', type: 'pkcs8' });
    return { privateKey, publicKey: createPublicKey(privateKey) };
  }
  throw new Error(`no import for algorithm 0x${algorithm.toString(16)}`);
}

/** The public key as GENERATE and GET METADATA return it: 86 point, or 81 modulus 82 exponent. */
export function publicKeyTemplate(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'RSA') return concat(tlv(0x81, Buffer.from(jwk.n!, 'base64url')), tlv(0x82, Buffer.from(jwk.e!, 'base64url')));
  if (jwk.kty === 'EC') return tlv(0x86, concat(Uint8Array.of(0x04), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')));
  return tlv(0x86, Buffer.from(jwk.x!, 'base64url'));
}

export class CardCryptoError extends Error {}

/**
 * The private-key operation of GENERAL AUTHENTICATE: ECDSA over the given (field-sized) hash → DER;
 * raw RSA on a modulus-sized block; Ed25519 over the message.
 */
export function privateOperation(algorithm: number, key: KeyObject, input: Uint8Array): Uint8Array {
  const ec = EC_CURVES[algorithm];
  if (ec) {
    if (input.length !== ec.field) throw new CardCryptoError(`ECDSA input must be ${ec.field} bytes`);
    const d = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
    try {
      return ec.curve.sign(input, d, { lowS: false }).toDERRawBytes();
    } finally {
      d.fill(0);
    }
  }
  const bits = RSA_BITS[algorithm];
  if (bits) {
    if (input.length !== bits / 8) throw new CardCryptoError(`RSA input must be ${bits / 8} bytes`);
    const n = bigint(Buffer.from(key.export({ format: 'jwk' }).n!, 'base64url'));
    if (bigint(input) >= n) throw new CardCryptoError('RSA input is not smaller than the modulus');
    return new Uint8Array(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, input));
  }
  if (algorithm === ALGORITHM.ED25519) return new Uint8Array(sign(null, input, key));
  throw new CardCryptoError(`algorithm 0x${algorithm.toString(16)} cannot sign`);
}

/** ECDH (GENERAL AUTHENTICATE with tag 85): the shared secret's x-coordinate. */
export function keyAgreement(algorithm: number, key: KeyObject, peer: Uint8Array): Uint8Array {
  const ec = EC_CURVES[algorithm];
  let peerKey: KeyObject;
  if (ec) {
    if (peer.length !== 1 + 2 * ec.field || peer[0] !== 0x04) throw new CardCryptoError('the peer point is malformed');
    peerKey = createPublicKey({
      key: { kty: 'EC', crv: ec.name, x: b64url(peer.subarray(1, 1 + ec.field)), y: b64url(peer.subarray(1 + ec.field)) },
      format: 'jwk',
    });
  } else if (algorithm === ALGORITHM.X25519) {
    if (peer.length !== 32) throw new CardCryptoError('the peer key is malformed');
    peerKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(peer) }, format: 'jwk' });
  } else {
    throw new CardCryptoError(`algorithm 0x${algorithm.toString(16)} cannot do key agreement`);
  }
  return new Uint8Array(diffieHellman({ privateKey: key, publicKey: peerKey }));
}

export function exportPrivate(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}
export function exportPublic(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}
export function loadPrivate(b64: string): KeyObject {
  return createPrivateKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'pkcs8' });
}
export function loadPublic(b64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
}
