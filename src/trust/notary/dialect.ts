/**
 * Notary v1's dialect of TUF (Docker Content Trust, as notary 0.7 writes and checks it): keys are
 * `{keytype, keyval: {private: null, public: base64}}` and their id is the SHA-256 of exactly that
 * in canonical JSON; a root key is an X.509 certificate (`ecdsa-x509`, public = base64 of its PEM);
 * signatures are base64 with a `method` (`ecdsa`: raw r‖s over SHA-256 whatever the curve, `eddsa`,
 * `rsapss`). The same device signer serves it as it serves TUF 1.0 (../signer.ts).
 */
import { constants, createHash, createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { algorithmOfKey, ALGORITHMS, type HashName } from '../../crypto/algorithms.js';
import { ecdsaDerToRaw } from '../../crypto/signature-encoding.js';
import { keywardError } from '../../errors.js';
import { toPem } from '../../x509/pem.js';
import { canonicalBytes } from '../canonical-json.js';
import type { Dialect, MetadataKey } from '../dialect.js';
import type { Signature } from '../metadata.js';
import { metadataSigner, type Signer, type TufSigner } from '../signer.js';

export interface NotaryKey extends MetadataKey {
  /** `ecdsa`, `ecdsa-x509`, `ed25519`, `rsa`, `rsa-x509`. */
  keytype: string;
  keyval: { private: null; public: string };
}

/** The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), before the 32 key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const key = (keytype: string, publicValue: string): NotaryKey => ({ keytype, keyval: { private: null, public: publicValue } });

/** Notary's key id: SHA-256 of the canonical `{keytype, keyval: {private: null, public}}`, whatever else the key holds. */
export function notaryKeyId(value: MetadataKey): string {
  return createHash('sha256')
    .update(canonicalBytes({ keytype: value.keytype, keyval: { private: null, public: value.keyval.public } }))
    .digest('hex');
}

/** A device key (its SubjectPublicKeyInfo) as Notary writes a bare key. */
export function notaryKeyFromSpki(spki: Uint8Array): NotaryKey {
  const der = Buffer.from(spki);
  const algorithm = algorithmOfKey(createPublicKey({ key: der, format: 'der', type: 'spki' }));
  if (algorithm === 'ed25519') return key('ed25519', der.subarray(ED25519_SPKI_PREFIX.length).toString('base64'));
  if (algorithm === 'p256' || algorithm === 'p384') return key('ecdsa', der.toString('base64'));
  if (algorithm) return key('rsa', der.toString('base64'));
  throw keywardError('TUF_KEY_TYPE', 'the key is of a type Notary cannot sign with');
}

/** A certificate (PEM, as Go writes it: 64 columns, LF) as Notary's `ecdsa-x509` or `rsa-x509` key. */
export function x509Key(certificate: X509Certificate): NotaryKey {
  const type = certificate.publicKey.asymmetricKeyType;
  if (type !== 'ec' && type !== 'rsa') throw keywardError('TUF_KEY_TYPE', `a ${type} certificate cannot be a Notary key (ECDSA or RSA only)`);
  return key(`${type === 'ec' ? 'ecdsa' : 'rsa'}-x509`, Buffer.from(toPem('CERTIFICATE', certificate.raw)).toString('base64'));
}

const certificates = new WeakMap<MetadataKey, X509Certificate | null>();

/** The certificate of an x509 key (its first, the leaf), or undefined for a bare key or one that holds none. */
export function certificateOf(value: MetadataKey): X509Certificate | undefined {
  let cached = certificates.get(value);
  if (cached === undefined) {
    cached = null;
    if (value.keytype.endsWith('-x509') && typeof value.keyval?.public === 'string') {
      try {
        cached = new X509Certificate(Buffer.from(value.keyval.public, 'base64'));
      } catch {
        cached = null;
      }
    }
    certificates.set(value, cached);
  }
  return cached ?? undefined;
}

const publicKeys = new WeakMap<MetadataKey, KeyObject | null>();

/** The node:crypto key of a Notary key, or null when it is malformed or of a type Notary does not sign with. */
export function publicKeyOf(value: MetadataKey): KeyObject | null {
  let cached = publicKeys.get(value);
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const publicValue = value.keyval?.public;
    if (typeof publicValue === 'string') {
      if (value.keytype === 'ed25519') {
        const raw = Buffer.from(publicValue, 'base64');
        if (raw.length === 32) cached = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
      } else if (value.keytype === 'ecdsa' || value.keytype === 'rsa') {
        cached = createPublicKey({ key: Buffer.from(publicValue, 'base64'), format: 'der', type: 'spki' });
      } else if (value.keytype === 'ecdsa-x509' || value.keytype === 'rsa-x509') {
        cached = certificateOf(value)?.publicKey ?? null;
      }
      const family = value.keytype.startsWith('ecdsa') ? 'ec' : value.keytype.startsWith('rsa') ? 'rsa' : 'ed25519';
      if (cached && (cached.asymmetricKeyType !== family || !algorithmOfKey(cached))) cached = null;
    }
  } catch {
    cached = null;
  }
  publicKeys.set(value, cached);
  return cached;
}

/** The bare key of an x509 key (the id `notary key list` and `delegation list` show); a bare key is itself. */
export function bareKey(value: NotaryKey): NotaryKey {
  const certificate = certificateOf(value);
  if (!certificate) return value;
  return notaryKeyFromSpki(certificate.publicKey.export({ format: 'der', type: 'spki' }));
}

/** The signature `method` Notary writes for a key family. */
const METHODS = { ec: 'ecdsa', ed25519: 'eddsa', rsa: 'rsapss' } as const;

function verifyWith(publicKey: KeyObject, data: Uint8Array, signature: Signature): boolean {
  if (typeof signature.sig !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature.sig)) return false;
  const bytes = Buffer.from(signature.sig, 'base64');
  try {
    switch (signature.method) {
      case 'ecdsa':
        return publicKey.asymmetricKeyType === 'ec' && verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, bytes);
      case 'eddsa':
        return publicKey.asymmetricKeyType === 'ed25519' && verify(null, data, publicKey, bytes);
      case 'rsapss':
        return (
          publicKey.asymmetricKeyType === 'rsa' &&
          verify('sha256', data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, bytes)
        );
      case 'rsapkcs1v15':
        return publicKey.asymmetricKeyType === 'rsa' && verify('sha256', data, publicKey, bytes);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

const NOTARY_BASE = {
  name: 'Notary v1',
  keyId: notaryKeyId,
  /** Notary hashes every ECDSA and RSA signature with SHA-256, a P-384 key's too. */
  hashFor: (value: NotaryKey): HashName | undefined => (value.keytype === 'ed25519' ? undefined : 'SHA-256'),
  signature(keyid: string, raw: { signature: Uint8Array; key: Uint8Array }): Signature {
    const algorithm = algorithmOfKey(createPublicKey({ key: Buffer.from(raw.key), format: 'der', type: 'spki' }));
    if (!algorithm) throw keywardError('TUF_KEY_TYPE', 'the key is of a type Notary cannot sign with');
    const info = ALGORITHMS[algorithm];
    const bytes = info.family === 'ec' ? ecdsaDerToRaw(raw.signature, info.fieldBytes) : raw.signature;
    return { keyid, method: METHODS[info.family], sig: Buffer.from(bytes).toString('base64') };
  },
  verify(value: NotaryKey, data: Uint8Array, signature: Signature): boolean {
    const publicKey = publicKeyOf(value);
    return publicKey !== null && verifyWith(publicKey, data, signature);
  },
};

/** Notary's dialect for bare keys (targets, snapshot, delegations). */
export const NOTARY: Dialect<NotaryKey> = { ...NOTARY_BASE, keyOf: notaryKeyFromSpki };

/**
 * A device signer as the holder of `key` as the metadata writes it (its id, an x509 key's
 * certificate), or undefined when the device holds another key.
 */
export function signerAs(signer: Signer, key: NotaryKey): TufSigner<NotaryKey> | undefined {
  const publicKey = publicKeyOf(key);
  if (!publicKey?.export({ format: 'der', type: 'spki' }).equals(Buffer.from(signer.publicKey))) return undefined;
  return metadataSigner(signer, { ...NOTARY, keyOf: () => key });
}
