/**
 * RSA signature encodings done on the host, for devices that only do the raw RSA operation (PIV
 * cards): EMSA-PKCS1-v1_5 (RFC 8017 §9.2) and EMSA-PSS (§9.1.1) with MGF1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { keywardError } from '../errors.js';
import { HASH_BYTES, nodeHashName, type HashName } from './algorithms.js';
import { digestInfo } from './signature-encoding.js';

/** EMSA-PKCS1-v1_5: 00 01 FF…FF 00 ‖ DigestInfo, `length` bytes (the modulus length). */
export function emsaPkcs1v15(hash: HashName, digest: Uint8Array, length: number): Uint8Array {
  const t = digestInfo(hash, digest);
  if (length < t.length + 11) throw keywardError('RSA_TOO_SHORT', 'the RSA modulus is too short for this hash');
  const em = new Uint8Array(length).fill(0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[length - t.length - 1] = 0x00;
  em.set(t, length - t.length);
  return em;
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: HashName, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const counter = Buffer.alloc(4);
  for (let offset = 0, i = 0; offset < length; i++, offset += HASH_BYTES[hash]) {
    counter.writeUInt32BE(i);
    const block = createHash(nodeHashName(hash)).update(seed).update(counter).digest();
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset);
  }
  return out;
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) for a modulus of `modulusBits` bits. */
export function emsaPss(hash: HashName, digest: Uint8Array, modulusBits: number, saltLength = HASH_BYTES[hash]): Uint8Array {
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = HASH_BYTES[hash];
  if (emLen < hLen + saltLength + 2) throw keywardError('RSA_TOO_SHORT', 'the RSA modulus is too short for this hash and salt');
  const salt = randomBytes(saltLength);
  const mPrime = Buffer.concat([Buffer.alloc(8), digest, salt]);
  const h = createHash(nodeHashName(hash)).update(mPrime).digest();
  const db = new Uint8Array(emLen - hLen - 1);
  db[emLen - saltLength - hLen - 2] = 0x01;
  db.set(salt, emLen - saltLength - hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = new Uint8Array(emLen);
  em.set(db, 0);
  em.set(h, db.length);
  em[emLen - 1] = 0xbc;
  // The card takes a block as long as the modulus: prefix a zero byte when emLen is shorter.
  if (emLen * 8 === modulusBits) return em;
  const block = new Uint8Array(modulusBits / 8);
  block.set(em, block.length - em.length);
  return block;
}
