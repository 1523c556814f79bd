/**
 * PIV attestation (Yubico): the card signs, with its slot-F9 attestation key, a certificate for a
 * key it generated; the F9 certificate chains to a root the verifier trusts (Yubico's for real
 * devices, the emulator's for the virtual YubiKey). Extensions under 1.3.6.1.4.1.41482.3 carry the
 * firmware, serial, PIN/touch policies and form factor.
 */
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { fromBER, Integer } from 'asn1js';
import { VerificationError } from '../../errors.js';
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
    throw new VerificationError('ATTESTATION_MALFORMED', `the ${what} is not a valid certificate`, { cause });
  }
}

function checkValidity(certificate: X509Certificate, what: string, now: Date): void {
  if (now < new Date(certificate.validFrom) || now > new Date(certificate.validTo)) {
    throw new VerificationError('ATTESTATION_EXPIRED', `the ${what} is not valid now (${certificate.validFrom} – ${certificate.validTo})`);
  }
}

/**
 * Verifies slot attestation → device (F9) certificate → one of `trustedRoots`, and that the
 * attested key is `expectedPublicKey` (SPKI DER) when given.
 */
export function verifyAttestation(request: {
  attestation: Uint8Array;
  deviceCertificate: Uint8Array;
  trustedRoots: Uint8Array[];
  expectedPublicKey?: Uint8Array;
  now?: Date;
}): VerifiedAttestation {
  const now = request.now ?? new Date();
  const leaf = load(request.attestation, 'slot attestation certificate');
  const device = load(request.deviceCertificate, 'device attestation (F9) certificate');
  if (!leaf.checkIssued(device) || !leaf.verify(device.publicKey)) {
    throw new VerificationError('ATTESTATION_INVALID', 'the slot attestation is not signed by this device\'s attestation key');
  }
  const root = request.trustedRoots.map((r) => load(r, 'trusted root')).find((r) => device.checkIssued(r) && device.verify(r.publicKey));
  if (!root) {
    throw new VerificationError('ATTESTATION_UNTRUSTED', `the device attestation certificate (issued by "${device.issuer.split('\n').join(', ')}") does not chain to a trusted root`, {
      hint: 'for real YubiKeys the root is Yubico\'s; a virtual YubiKey chains to its own root, which a verifier must be told to trust',
    });
  }
  checkValidity(leaf, 'slot attestation certificate', now);
  checkValidity(device, 'device attestation certificate', now);
  if (request.expectedPublicKey) {
    const attested = leaf.publicKey.export({ type: 'spki', format: 'der' });
    if (!attested.equals(Buffer.from(request.expectedPublicKey))) {
      throw new VerificationError('ATTESTATION_KEY_MISMATCH', 'the attestation is for another key than the one in the slot');
    }
  }
  const oneLine = (name: string) => name.split('\n').join(', ');
  return { claims: attestationClaims(request.attestation), root: oneLine(root.subject), device: oneLine(device.subject) };
}
