/**
 * The virtual YubiKey's attestation CA. Real YubiKeys carry a slot-F9 key whose certificate Yubico
 * issued; a virtual one gets its own root and F9 certificate, so that attestation works end to end
 * while no verifier that trusts only Yubico will ever mistake it for a real device.
 */
import { randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { Integer } from 'asn1js';
import { ATTESTATION_OID } from '../piv/spec.js';
import * as x509 from '../../x509.js';
import { loadPrivate } from './keys.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const crypto = webcrypto;

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}

async function toCryptoKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), EC, false, ['sign']) as Promise<webcrypto.CryptoKey>;
}

/** A new root and device (F9) certificate for one virtual YubiKey. */
export async function createAttestationCa(deviceSerial: number): Promise<{ rootCertificate: string; deviceCertificate: string; deviceKey: string }> {
  const root = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const device = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.UTC(2020, 0, 1));
  const notAfter = new Date(Date.UTC(2060, 0, 1));
  const rootName = 'CN=Keyward Virtual YubiKey PIV Root CA, O=Keyward emulator - not a real YubiKey';
  const rootCertificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: rootName,
      notBefore,
      notAfter,
      signingAlgorithm: SIGN,
      keys: root,
      extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    },
    crypto,
  );
  const deviceCertificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=Keyward Virtual YubiKey PIV Attestation ${deviceSerial}`,
      issuer: rootCertificate.subjectName,
      notBefore,
      notAfter,
      signingAlgorithm: SIGN,
      publicKey: device.publicKey,
      signingKey: root.privateKey,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    },
    crypto,
  );
  return {
    rootCertificate: Buffer.from(rootCertificate.rawData).toString('base64'),
    deviceCertificate: Buffer.from(deviceCertificate.rawData).toString('base64'),
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
      serialNumber: serial(),
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
