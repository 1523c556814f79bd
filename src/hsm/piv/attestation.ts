/**
 * PIV attestation (Yubico): the card signs, with its slot-F9 attestation key, a certificate for a
 * key it generated; the F9 certificate chains, directly or through intermediates the card does not
 * hold (firmware 5.7.4 and later), to a root the verifier trusts (Yubico's for real devices, the
 * emulator's for the virtual YubiKey). Extensions under 1.3.6.1.4.1.41482.3 carry the
 * firmware, serial, PIN/touch policies and form factor.
 */
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { fromBER, Integer } from 'asn1js';
import { keywardError, type CodeOf } from '../../errors.js';
import { buildCertificatePath, issuedBy, oneLineName, type PathFailureKind } from '../../x509/path.js';
import { samePublicKey } from '../../x509/public-key.js';
import { ATTESTATION_OID, FORM_FACTORS, pinPolicyName, touchPolicyName, type PinPolicy, type TouchPolicy } from './spec.js';

export interface AttestationClaims {
  firmware?: string;
  serial?: number;
  pinPolicy?: PinPolicy;
  touchPolicy?: TouchPolicy;
  formFactor?: string;
}

export interface VerifiedAttestation {
  claims: AttestationClaims;
  /** Subject of the trusted root the chain ends in. */
  root: string;
  /** Subject of the device's attestation (F9) certificate. */
  device: string;
  /** Subjects from the slot's certificate to the root. */
  path: string[];
  /** The certificates of that path (DER), slot first, root last. */
  chain: Uint8Array[];
}

/** Decodes Yubico's attestation extensions from a certificate. */
export function attestationClaims(der: Uint8Array): AttestationClaims {
  const certificate = AsnConvert.parse(der, Certificate);
  const claims: AttestationClaims = {};
  for (const extension of certificate.tbsCertificate.extensions ?? []) {
    const value = new Uint8Array(extension.extnValue.buffer);
    switch (extension.extnID) {
      case ATTESTATION_OID.firmware:
        if (value.length === 3) claims.firmware = `${value[0]}.${value[1]}.${value[2]}`;
        break;
      case ATTESTATION_OID.serial: {
        const parsed = fromBER(value.slice().buffer);
        if (parsed.result instanceof Integer) claims.serial = Number(parsed.result.toBigInt());
        break;
      }
      case ATTESTATION_OID.policy:
        claims.pinPolicy = pinPolicyName(value[0] ?? 0);
        claims.touchPolicy = touchPolicyName(value[1] ?? 0);
        break;
      case ATTESTATION_OID.formFactor:
        claims.formFactor = FORM_FACTORS[(value[0] ?? 0) & 0x7f] ?? `unknown (0x${(value[0] ?? 0).toString(16)})`;
        break;
    }
  }
  return claims;
}

function load(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der));
  } catch (cause) {
    throw keywardError('ATTESTATION_MALFORMED', `the ${what} is not a valid certificate`, { cause });
  }
}

/** What a verifier trusts: roots end a chain; intermediates only help build one. DER each. */
export interface AttestationTrust {
  roots: Uint8Array[];
  intermediates: Uint8Array[];
}

/**
 * A bundle file's certificates sorted: the self-signed ones are roots, the rest intermediates. So
 * one file can carry a whole PKI (root and tiers), and an intermediate in it never becomes an anchor.
 */
export function trustFromBundle(certificates: Uint8Array[]): AttestationTrust {
  const trust: AttestationTrust = { roots: [], intermediates: [] };
  for (const der of certificates) {
    const certificate = load(der, 'certificate in the attestation bundle');
    (issuedBy(certificate, certificate) ? trust.roots : trust.intermediates).push(der);
  }
  return trust;
}

const UNTRUSTED_HINT =
  "real YubiKeys chain to Yubico's roots, built in with the intermediates of firmware 5.7.4 and later; a virtual YubiKey chains to its own root and intermediates, which the verifier must be given";

/** Error code and hint for each way a path can fail. */
const PATH_ERRORS: Record<PathFailureKind, { code: CodeOf<'verification'>; hint?: string }> = {
  'issuer-missing': { code: 'ATTESTATION_UNTRUSTED', hint: UNTRUSTED_HINT },
  'untrusted-root': { code: 'ATTESTATION_UNTRUSTED', hint: UNTRUSTED_HINT },
  'issuer-foreign': {
    code: 'ATTESTATION_UNTRUSTED',
    hint: "the bundle holds a certificate that has the issuer's name but not its key: take the intermediates from the same PKI as the root",
  },
  expired: { code: 'ATTESTATION_EXPIRED' },
  'not-a-ca': { code: 'ATTESTATION_INVALID' },
  'path-length': { code: 'ATTESTATION_INVALID' },
};

/**
 * Verifies slot attestation → device (F9) certificate → intermediates from `trust` → one of its
 * roots (one path builder for every shape: the old direct chain and 5.7.4's two tiers alike), and
 * that the attested key is `expectedPublicKey` (SPKI DER) when given.
 */
export function verifyAttestation(request: {
  attestation: Uint8Array;
  deviceCertificate: Uint8Array;
  trust: AttestationTrust;
  expectedPublicKey?: Uint8Array;
  now?: Date;
}): VerifiedAttestation {
  const leaf = load(request.attestation, 'slot attestation certificate');
  const device = load(request.deviceCertificate, 'device attestation (F9) certificate');
  // The slot's certificate must come from this card's F9 key, not from any CA in the bundle.
  if (!issuedBy(leaf, device)) {
    throw keywardError('ATTESTATION_INVALID', "the slot attestation is not signed by this device's attestation key");
  }
  const built = buildCertificatePath({
    leaf,
    intermediates: [device, ...request.trust.intermediates.map((c) => load(c, 'intermediate certificate'))],
    roots: request.trust.roots.map((c) => load(c, 'trusted root')),
    now: request.now,
  });
  if (!built.ok) {
    const { kind, message, ...details } = built.failure;
    throw keywardError(PATH_ERRORS[kind].code, message, { details, hint: PATH_ERRORS[kind].hint });
  }
  if (request.expectedPublicKey && !samePublicKey(leaf.publicKey, request.expectedPublicKey)) {
    throw keywardError('ATTESTATION_KEY_MISMATCH', 'the attestation is for another key than the one in the slot');
  }
  const path = built.path;
  return {
    claims: attestationClaims(request.attestation),
    root: oneLineName(path[path.length - 1]!.subject),
    device: oneLineName(device.subject),
    path: path.map((c) => oneLineName(c.subject)),
    chain: path.map((c) => new Uint8Array(c.raw)),
  };
}
