/**
 * The keys image and blob signatures are made and checked with. Signing: a Keystore key, always over
 * SHA-256 (what cosign, containers/image and sigstore verifiers assume for every key type), ECDSA in
 * DER, RSA PKCS#1 v1.5, Ed25519 pure. Verifying: a public key, or a certificate chain whose path to
 * its own self-signed root is checked and whose leaf's key is then used.
 */
import { createHash, createPublicKey, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { keywardError } from '../errors.js';
import type { KeyAlgorithm } from '../crypto/algorithms.js';
import type { SignOptions } from '../keystore/backend.js';
import { fromPemOrDer, pemBlocks } from '../x509/pem.js';

/** How an image or blob signature is made in the device, for the key's algorithm. */
export function signOptions(algorithm: KeyAlgorithm | undefined): SignOptions {
  if (algorithm === 'ed25519') return {};
  if (algorithm?.startsWith('rsa')) return { hash: 'SHA-256', padding: 'pkcs1' };
  return { hash: 'SHA-256', format: 'der' };
}

export interface VerifierKey {
  key: KeyObject;
  /** Hex SHA-256 of the SubjectPublicKeyInfo: how reports name a key. */
  id: string;
  /** The leaf certificate's subject, when the key came with a chain. */
  subject?: string;
}

/** Hex SHA-256 of a key's SubjectPublicKeyInfo DER. */
export function keyId(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

export function verifierKey(key: KeyObject, subject?: string): VerifierKey {
  return { key, id: keyId(key.export({ type: 'spki', format: 'der' })), ...(subject ? { subject } : {}) };
}

/**
 * A verification key from a file's bytes: a PEM or DER public key, or PEM certificates (leaf first,
 * then intermediates, ending at a self-signed root), whose path is checked now.
 */
export async function readVerifierKey(data: Uint8Array, now = new Date()): Promise<VerifierKey> {
  const certificates = pemBlocks(data, 'CERTIFICATE').map((der) => new X509Certificate(der));
  if (certificates.length > 0) {
    const leaf = certificates[0]!;
    const roots = certificates.filter((c) => c.subject === c.issuer && c.verify(c.publicKey));
    if (roots.length === 0) {
      throw keywardError('KEY_CHAIN_INVALID', 'the certificate chain does not end in a self-signed root', {
        hint: 'give the leaf, its intermediates and the root you trust, in one PEM file',
      });
    }
    // Path building needs x509's full codec: loaded only for a chain, not for every public key.
    const { buildCertificatePath } = await import('../x509/path.js');
    const path = buildCertificatePath({ leaf, intermediates: certificates.slice(1), roots, now });
    if (!path.ok) throw keywardError('KEY_CHAIN_INVALID', `the certificate chain does not verify: ${path.failure.message}`);
    return verifierKey(leaf.publicKey, leaf.subject.split('\n').join(', '));
  }
  const der = fromPemOrDer(data, 'PUBLIC KEY');
  try {
    return verifierKey(createPublicKey({ key: der, format: 'der', type: 'spki' }));
  } catch (cause) {
    throw keywardError('PUBLIC_KEY_MISSING', 'it holds no public key or certificate chain (PEM or DER)', {
      cause,
      hint: 'keyward key public URI > signer.pub.pem writes a public key',
    });
  }
}

/**
 * Whether `signature` by `key` covers `data`: SHA-256, ECDSA in DER or raw r‖s (newer verifiers
 * accept both), RSA PKCS#1 v1.5, Ed25519.
 */
export function signatureVerifies(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (key.asymmetricKeyType === 'ed25519') return verifySignature(null, data, key, signature);
    if (verifySignature('sha256', data, key, signature)) return true;
    return key.asymmetricKeyType === 'ec' && verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
