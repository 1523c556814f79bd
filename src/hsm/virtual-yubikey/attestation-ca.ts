/**
 * The virtual YubiKey's attestation CA. Real YubiKeys carry a slot-F9 key whose certificate Yubico
 * issued; a virtual one gets its own root (and, on a 5.7.4-style card, two intermediate tiers) and
 * F9 certificate, so that attestation works end to end while no verifier that trusts only Yubico
 * will ever mistake it for a real device.
 */
import { webcrypto, type KeyObject } from 'node:crypto';
import { Integer } from 'asn1js';
import { randomSerial } from '../../x509/serial.js';
import { ATTESTATION_OID } from '../piv/spec.js';
import * as x509 from '../../x509/peculiar.js';
import { loadPrivate } from './keys.js';
import type { AttestationCaState } from './state.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const crypto = webcrypto;

async function toCryptoKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), EC, false, ['sign']) as Promise<webcrypto.CryptoKey>;
}

/**
 * How a card's attestation chains up: straight from F9 to the root (YubiKeys before 5.7.4), or, as
 * Yubico's PKI does from 5.7.4, through two intermediate tiers the card does not hold.
 */
export type AttestationShape = 'direct' | 'tiered';

/** Marks every certificate of the emulator's PKI, so no one mistakes it for Yubico's. */
const EMULATOR = 'O=Keyward emulator - not a real YubiKey';

/** The tiers between root and F9, top first, named after Yubico's ("… Intermediate A 1", "PIV … A 1"). */
const TIERS: Record<AttestationShape, string[]> = {
  direct: [],
  tiered: ['Keyward Virtual YubiKey Attestation Intermediate A 1', 'Keyward Virtual YubiKey PIV Attestation A 1'],
};

const NOT_BEFORE = new Date(Date.UTC(2020, 0, 1));
const NOT_AFTER = new Date(Date.UTC(2060, 0, 1));
const CA_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

interface Issuer {
  certificate: x509.X509Certificate;
  key: webcrypto.CryptoKey;
}

/** A CA certificate under `issuer`, allowing `pathLength` CAs below it, with key identifiers for path building. */
async function issueCaCertificate(
  issuer: Issuer,
  subject: string,
  publicKey: webcrypto.CryptoKey,
  pathLength: number,
  usage: x509.KeyUsageFlags,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject,
      issuer: issuer.certificate.subjectName,
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      signingAlgorithm: SIGN,
      publicKey,
      signingKey: issuer.key,
      extensions: [
        new x509.BasicConstraintsExtension(true, pathLength, true),
        new x509.KeyUsagesExtension(usage, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate, false, crypto),
      ],
    },
    crypto,
  );
}

const der = (certificate: x509.X509Certificate) => Buffer.from(certificate.rawData).toString('base64');
const newKeys = async () => (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;

/** A new attestation PKI for one virtual YubiKey: its root, the tiers of `shape`, and the device (F9) certificate and key. */
export async function createAttestationCa(deviceSerial: number, shape: AttestationShape): Promise<AttestationCaState> {
  const tiers = TIERS[shape];
  const rootKeys = await newKeys();
  const rootName = shape === 'tiered' ? `CN=Keyward Virtual YubiKey Attestation Root 1, ${EMULATOR}` : `CN=Keyward Virtual YubiKey PIV Root CA, ${EMULATOR}`;
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: rootName,
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      signingAlgorithm: SIGN,
      keys: rootKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, tiers.length + 1, true),
        new x509.KeyUsagesExtension(CA_USAGE, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  let issuer: Issuer = { certificate: root, key: rootKeys.privateKey };
  const intermediates: string[] = [];
  for (const [index, name] of tiers.entries()) {
    const keys = await newKeys();
    const certificate = await issueCaCertificate(issuer, `CN=${name}, ${EMULATOR}`, keys.publicKey, tiers.length - index, CA_USAGE);
    // Listed as a chain reads, from F9's issuer up.
    intermediates.unshift(der(certificate));
    issuer = { certificate, key: keys.privateKey };
  }
  const device = await newKeys();
  const deviceCertificate = await issueCaCertificate(
    issuer,
    `CN=Keyward Virtual YubiKey PIV Attestation ${deviceSerial}`,
    device.publicKey,
    0,
    x509.KeyUsageFlags.keyCertSign,
  );
  return {
    rootCertificate: der(root),
    ...(intermediates.length ? { intermediates } : {}),
    deviceCertificate: der(deviceCertificate),
    deviceKey: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', device.privateKey)).toString('base64'),
  };
}

export interface AttestationFacts {
  slot: number;
  publicKey: KeyObject;
  firmware: readonly [number, number, number];
  serial: number;
  pinPolicy: number;
  touchPolicy: number;
  formFactor: number;
}

/** The slot attestation certificate (Yubico's shape): issued by the F9 key, Yubico's extensions. */
export async function issueAttestation(ca: { deviceCertificate: string; deviceKey: string }, facts: AttestationFacts): Promise<Uint8Array> {
  const issuer = new x509.X509Certificate(Buffer.from(ca.deviceCertificate, 'base64'));
  const spki = facts.publicKey.export({ type: 'spki', format: 'der' });
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: `CN=YubiKey PIV Attestation ${facts.slot.toString(16)}`,
      issuer: issuer.subjectName,
      notBefore: issuer.notBefore,
      notAfter: issuer.notAfter,
      signingAlgorithm: SIGN,
      publicKey: new x509.PublicKey(spki),
      signingKey: await toCryptoKey(loadPrivate(ca.deviceKey)),
      extensions: [
        new x509.Extension(ATTESTATION_OID.firmware, false, Uint8Array.from(facts.firmware)),
        new x509.Extension(ATTESTATION_OID.serial, false, new Integer({ value: facts.serial }).toBER()),
        new x509.Extension(ATTESTATION_OID.policy, false, Uint8Array.of(facts.pinPolicy, facts.touchPolicy)),
        new x509.Extension(ATTESTATION_OID.formFactor, false, Uint8Array.of(facts.formFactor)),
      ],
    },
    crypto,
  );
  return new Uint8Array(certificate.rawData);
}
