/**
 * What a CA step did, as it did it: the keys it made or used, the certificates and CRLs it signed,
 * every file it wrote (with its SHA-256) and every ledger entry. The CLI prints from this record and
 * a ceremony's transcript holds it, so neither rebuilds what a step did from the step's objects.
 *
 * A step also takes a `StepRun`: the time it acts at (a ceremony fixes its time once, and every
 * certificate, CRL and status of it uses that time) and, optionally, a review of each certificate
 * before the CA's key signs it (issue.ts).
 */
import { createHash } from 'node:crypto';
import type { KeyHandle } from '../../keystore/backend.js';
import { certificatePem } from '../../x509/certificate.js';
import { toPem } from '../../x509/pem.js';
import type * as x509 from '../../x509/peculiar.js';
import type { SigningKey } from '../../certificates/signer.js';
import { crlNumberOf } from '../crl.js';
import type { CertificateReview, Issuance } from '../issue.js';
import { CA_FILES, configText, crlPem, type CaDirectory, type CaConfigUpdate } from '../store.js';

export interface StepRun {
  /** When the step acts; the wall clock when absent (a command run by hand). */
  now?: Date;
  /** Shown each certificate before the CA's key signs it (issue.ts). */
  review?: CertificateReview;
  /**
   * Told of each key as the step makes or opens it, before the key signs anything (a ceremony
   * checks the device it is on and has a YubiKey attest it). Throwing stops the step there.
   */
  keyReady?: (key: KeyRecord, handle: KeyHandle) => Promise<void>;
}

export interface KeyRecord {
  /** What the key is to this step: root, intermediate, new-root … */
  role: string;
  uri: string;
  /** The device, as a person names it, and its serial where it has one. */
  device: string;
  deviceSerial?: string;
  algorithm?: string;
  /** Made by this step (else opened). */
  generated: boolean;
  /** `wrap`: the key may leave its device only wrapped by a key its Security Officer trusts (for a backup ceremony). */
  backup?: 'wrap';
  /** A copy of the key at this URI, made under wrap (a backup or restore ceremony). */
  copiedFrom?: string;
  publicKey: string;
  /** SHA-256 of the key's SubjectPublicKeyInfo, hex. */
  spkiSha256: string;
}

export interface CertificateRecord {
  profile: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the certificate's DER, hex: the fingerprint witnesses copy. */
  sha256: string;
  pem: string;
}

export interface CrlRecord {
  role: string;
  number: number;
  thisUpdate: string;
  nextUpdate?: string;
  revoked: number;
  sha256: string;
  pem: string;
}

export interface FileRecord {
  path: string;
  /** SHA-256 of what was written, hex; absent for a file the step removed. */
  sha256?: string;
  removed?: true;
}

export interface LedgerRecord {
  serial: string;
  profile: string;
  issuerKeyId: string;
  /** For a change of status (a revocation): the certificate, its status now, and why. */
  subject?: string;
  status?: 'issued' | 'revoked';
  reason?: string;
}

export interface StepRecord {
  step: string;
  /** The time the step acted at, ISO 8601. */
  at: string;
  keys: KeyRecord[];
  certificates: CertificateRecord[];
  crls: CrlRecord[];
  files: FileRecord[];
  ledger: LedgerRecord[];
  /** What the step hands back besides files (a CSR to carry to the root). */
  outputs: Record<string, string>;
}

/** When a step acts: the time its run was given (a ceremony's), else the wall clock, read here and nowhere else in the steps. */
export const stepTime = (run: StepRun): Date => run.now ?? new Date();

export const sha256Hex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** Records a step as it goes; every write of a step goes through it. */
export class StepRecorder {
  readonly now: Date;
  readonly issuance: Issuance;
  readonly record: StepRecord;
  readonly #keyReady: StepRun['keyReady'];

  constructor(step: string, run: StepRun = {}) {
    this.now = stepTime(run);
    this.#keyReady = run.keyReady;
    this.issuance = { now: this.now, ...(run.review ? { review: run.review } : {}) };
    this.record = { step, at: this.now.toISOString(), keys: [], certificates: [], crls: [], files: [], ledger: [], outputs: {} };
  }

  async key(role: string, signer: SigningKey | KeyHandle, generated: boolean, copiedFrom?: string): Promise<void> {
    const handle = 'handle' in signer ? signer.handle : signer;
    const spki = 'spki' in signer ? signer.spki : await handle.publicKey();
    const serial = handle.info.details.serial;
    const key: KeyRecord = {
      role,
      uri: handle.info.uri,
      device: handle.info.device,
      ...(serial !== undefined ? { deviceSerial: String(serial) } : {}),
      ...(handle.info.algorithm ? { algorithm: handle.info.algorithm } : {}),
      generated,
      ...(handle.info.backup ? { backup: handle.info.backup } : {}),
      ...(copiedFrom !== undefined ? { copiedFrom } : {}),
      publicKey: toPem('PUBLIC KEY', spki),
      spkiSha256: sha256Hex(spki),
    };
    this.record.keys.push(key);
    await this.#keyReady?.(key, handle);
  }

  certificate(profile: string, certificate: x509.X509Certificate): void {
    this.record.certificates.push({
      profile,
      subject: certificate.subject,
      issuer: certificate.issuer,
      serial: certificate.serialNumber,
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
      sha256: sha256Hex(new Uint8Array(certificate.rawData)),
      pem: certificatePem(certificate),
    });
  }

  crl(role: string, crl: x509.X509Crl): void {
    this.record.crls.push({
      role,
      number: crlNumberOf(crl),
      thisUpdate: crl.thisUpdate.toISOString(),
      ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate.toISOString() } : {}),
      revoked: crl.entries.length,
      sha256: sha256Hex(new Uint8Array(crl.rawData)),
      pem: crlPem(crl),
    });
  }

  ledger(entry: LedgerRecord): void {
    this.record.ledger.push(entry);
  }

  write(directory: CaDirectory, file: string, content: string): void {
    directory.write(file, content);
    this.record.files.push({ path: directory.path(file), sha256: sha256Hex(content) });
  }

  saveConfig(directory: CaDirectory, config: CaConfigUpdate): void {
    this.write(directory, CA_FILES.config, configText(config));
  }

  remove(directory: CaDirectory, file: string): void {
    if (!directory.exists(file)) return;
    directory.remove(file);
    this.record.files.push({ path: directory.path(file), removed: true });
  }
}
