/**
 * A CA's directory: its configuration (ca.json), certificates as PEM files, the ledger, and CRLs.
 * Keys are not here: only their URIs. Every file is written atomically.
 *
 *   ca.json            cluster ID, key URIs, file names, policy
 *   roots.pem          the trusted root bundle (both roots during a rotation)
 *   root.pem           the current root certificate
 *   intermediate.pem   the cluster's issuing CA certificate
 *   cross-signed.pem   during a rotation: the new root issued by the old one
 *   ledger.sqlite      every issued certificate
 *   crl/…              CRLs by issuer
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { NotFoundError, UsageError } from '../errors.js';
import { toPem } from '../pem.js';
import * as x509 from '../x509.js';
import { SqliteLedger } from './ledger/sqlite.js';
import type { PublicationUrls } from './profiles.js';

export interface CaConfig {
  format: 1;
  clusterId?: string;
  /** The current root's key (kept offline; used only in ceremonies). */
  rootKey?: string;
  /** During a rotation: the old root's key, for cross-signing and its last CRL. */
  previousRootKey?: string;
  /** The issuing intermediate's key. */
  intermediateKey?: string;
  /** Its key while the certificate is being signed offline (intermediate request → install). */
  pendingIntermediateKey?: string;
  nodeDays: number;
  urls?: PublicationUrls;
}

export const CA_FILES = {
  config: 'ca.json',
  roots: 'roots.pem',
  root: 'root.pem',
  previousRoot: 'previous-root.pem',
  intermediate: 'intermediate.pem',
  crossSigned: 'cross-signed.pem',
  ledger: 'ledger.sqlite',
} as const;

export function splitPem(text: string): x509.X509Certificate[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new x509.X509Certificate(m[0]));
}

export const certificatePem = (certificate: x509.X509Certificate) => toPem('CERTIFICATE', new Uint8Array(certificate.rawData));

export class CaDirectory {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  exists(file: string): boolean {
    return existsSync(this.path(file));
  }

  config(): CaConfig {
    if (!this.exists(CA_FILES.config)) return { format: 1, nodeDays: 90 };
    try {
      return JSON.parse(readFileSync(this.path(CA_FILES.config), 'utf8')) as CaConfig;
    } catch (cause) {
      throw new UsageError('CA_CONFIG_CORRUPT', `${this.path(CA_FILES.config)} is not valid JSON`, { cause });
    }
  }

  saveConfig(config: CaConfig): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.path(CA_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
  }

  write(file: string, content: string): void {
    mkdirSync(join(this.dir, file, '..'), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.path(file), content);
  }

  read(file: string): string | undefined {
    return this.exists(file) ? readFileSync(this.path(file), 'utf8') : undefined;
  }

  certificates(file: string, what: string, hint: string): x509.X509Certificate[] {
    const text = this.read(file);
    if (!text) throw new NotFoundError('CA_FILE_MISSING', `this CA has no ${what} (${this.path(file)})`, { hint });
    return splitPem(text);
  }

  root(): x509.X509Certificate {
    return this.certificates(CA_FILES.root, 'root certificate', 'create one: keyward ca root create --key <uri>')[0]!;
  }

  rootBundle(): string {
    const text = this.read(CA_FILES.roots);
    if (!text) throw new NotFoundError('CA_FILE_MISSING', `this CA has no root bundle (${this.path(CA_FILES.roots)})`, { hint: 'create a root: keyward ca root create --key <uri>' });
    return text;
  }

  intermediate(): x509.X509Certificate {
    return this.certificates(CA_FILES.intermediate, 'intermediate certificate', 'create one in a ceremony: keyward ca intermediate create --root-key <uri> --key <uri> --cluster-id <id>')[0]!;
  }

  /**
   * What a node presents above its own certificate: the intermediate and, during a rotation once
   * the intermediate is the new root's, the cross-signed new root (the old root's clients need it).
   */
  chain(): x509.X509Certificate[] {
    const intermediate = this.intermediate();
    const crossSigned = this.exists(CA_FILES.crossSigned) ? this.certificates(CA_FILES.crossSigned, 'cross-signed root', '')[0] : undefined;
    const issuer = intermediate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    const issuedByNewRoot = crossSigned && issuer !== undefined && issuer === crossSigned.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    return issuedByNewRoot ? [intermediate, crossSigned] : [intermediate];
  }

  /** Refuses a directory that holds no CA: a mistyped --dir must not read as a new, empty CA. */
  requireCa(): void {
    if (!this.exists(CA_FILES.config)) {
      throw new NotFoundError('CA_NOT_FOUND', `${this.dir} is not a Keyward CA directory (it has no ${CA_FILES.config})`, {
        hint: 'check --dir (or KEYWARD_CA_DIR); a CA starts with: keyward ca root create --key <uri> --dir <dir>',
      });
    }
  }

  /** The issuance ledger; only the steps that create a CA (`create`) may start one where there is none. */
  ledger(options: { create?: boolean } = {}): SqliteLedger {
    if (!options.create) this.requireCa();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return SqliteLedger.open(this.path(CA_FILES.ledger));
  }
}
