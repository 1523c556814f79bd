/**
 * A CA's directory: its configuration (ca.json), certificates as PEM files, the ledger, and CRLs.
 * Keys are not here: only their URIs. Every file is written atomically, and no symbolic link in it
 * is followed (confined-directory.ts): the directory travels and others may have written it.
 *
 *   ca.json            cluster ID, key URIs, file names, policy
 *   roots.pem          the trusted root bundle (both roots during a rotation)
 *   root.pem           the current root certificate
 *   intermediate.pem   the cluster's issuing CA certificate, as the root issued it
 *   cluster-ca.pem     the same CA self-signed: the one certificate its swarm trusts
 *   cross-signed.pem   during a rotation: the new root issued by the old one
 *   ledger.sqlite      every issued certificate (unless ca.json names a PostgreSQL ledger)
 *   crl/…              CRLs by issuer
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfinedDirectory } from '../confined-directory.js';
import { keywardError } from '../errors.js';
import { KeyUri } from '../keystore/uri/origin.js';
import { pemBlocks, toPem } from '../x509/pem.js';
import * as x509 from '../x509/peculiar.js';
import type { Ledger } from './ledger/ledger.js';
import { parseLedgerLocation, type LedgerLocation } from './ledger/location.js';
import { SqliteLedger } from './ledger/sqlite.js';
import { checkIdentifier } from './names.js';
import type { PublicationUrls } from './profiles.js';

/**
 * ca.json. Its key URIs come back from the file as `KeyUri.fromFile`: the directory travels on
 * removable media and is public, so what it names is input, not the operator's choice (a URI from
 * it may not load a PKCS#11 module the operator has not allowed).
 */
export interface CaConfig {
  format: 1;
  clusterId?: string;
  /** The current root's key (kept offline; used only in ceremonies). */
  rootKey?: KeyUri;
  /** During a rotation: the old root's key, for cross-signing and its last CRL. */
  previousRootKey?: KeyUri;
  /** The issuing intermediate's key. */
  intermediateKey?: KeyUri;
  /** Its key while the certificate is being signed offline (intermediate request → install). */
  pendingIntermediateKey?: KeyUri;
  nodeDays: number;
  urls?: PublicationUrls;
  /** Where the ledger is when no --ledger says: "sqlite" (ledger.sqlite, the default) or a postgres:// URL (no password). */
  ledger?: string;
}

const KEY_FIELDS = ['rootKey', 'previousRootKey', 'intermediateKey', 'pendingIntermediateKey'] as const;
type KeyField = (typeof KEY_FIELDS)[number];

/** What is saved: key URIs kept from the file, or those of keys just opened (the keystore's text). */
export type CaConfigUpdate = Omit<CaConfig, KeyField> & { [F in KeyField]?: KeyUri | string };

/** The longest node certificate a CA directory may be set to issue: ten years. */
export const MAX_NODE_DAYS = 3650;

export function checkNodeDays(days: number, what: string): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_NODE_DAYS) {
    throw keywardError('NODE_DAYS_INVALID', `${what} must be a whole number of days from 1 to ${MAX_NODE_DAYS}, not ${JSON.stringify(days)}`, {
      hint: 'SwarmKit issues node certificates for 90 days; nodes renew well before they expire',
    });
  }
  return days;
}

const CONFIG_FIELDS = new Set(['format', 'clusterId', ...KEY_FIELDS, 'nodeDays', 'urls', 'ledger']);
const URL_FIELDS = new Set(['crl', 'caIssuers']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * ca.json as read: every field's type checked, the cluster ID and node validity within bounds, key
 * URIs parsed by the keystore's parsers and marked as read from this file. Unknown fields are
 * refused, as unknown URI attributes are: a misspelt field would otherwise be silently ignored.
 */
export function parseCaConfig(value: unknown, file: string): CaConfig {
  const invalid = (field: string, problem: string, cause?: unknown) =>
    keywardError('CA_CONFIG_INVALID', `${file}: ${field === '' ? 'the file' : `"${field}"`} ${problem}`, {
      cause,
      hint: 'ca.json is written by keyward; if it was edited, by hand or on shared media, restore it from a trusted copy',
      details: { file, field },
    });
  const checked = <T>(field: string, check: () => T): T => {
    try {
      return check();
    } catch (error) {
      throw invalid(field, `is not valid: ${(error as Error).message}`, error);
    }
  };
  const optionalString = (record: Record<string, unknown>, field: string, path = field): string | undefined => {
    const text = record[field];
    if (text !== undefined && typeof text !== 'string') throw invalid(path, `must be a string, not ${JSON.stringify(text)}`);
    return text;
  };

  if (!isObject(value)) throw invalid('', 'must hold a JSON object');
  const unknown = Object.keys(value).find((field) => !CONFIG_FIELDS.has(field));
  if (unknown !== undefined) throw invalid(unknown, `is not a field of ca.json (fields: ${[...CONFIG_FIELDS].join(', ')})`);
  if (value.format !== 1) throw invalid('format', `is ${JSON.stringify(value.format)}; this Keyward reads format 1`);
  const nodeDays = value.nodeDays;
  if (typeof nodeDays !== 'number') throw invalid('nodeDays', `must be a number, not ${JSON.stringify(nodeDays)}`);
  const config: CaConfig = { format: 1, nodeDays: checked('nodeDays', () => checkNodeDays(nodeDays, 'a node validity')) };
  const clusterId = optionalString(value, 'clusterId');
  if (clusterId !== undefined) config.clusterId = checked('clusterId', () => checkIdentifier(clusterId, 'cluster ID'));
  for (const field of KEY_FIELDS) {
    const text = optionalString(value, field);
    if (text !== undefined) config[field] = checked(field, () => KeyUri.fromFile(text, file, field));
  }
  if (value.urls !== undefined) {
    const urls = value.urls;
    if (!isObject(urls)) throw invalid('urls', `must be an object, not ${JSON.stringify(urls)}`);
    const other = Object.keys(urls).find((field) => !URL_FIELDS.has(field));
    if (other !== undefined) throw invalid(`urls.${other}`, `is not a field of urls (fields: ${[...URL_FIELDS].join(', ')})`);
    config.urls = { crl: optionalString(urls, 'crl', 'urls.crl'), caIssuers: optionalString(urls, 'caIssuers', 'urls.caIssuers') };
  }
  const ledger = optionalString(value, 'ledger');
  if (ledger !== undefined) {
    checked('ledger', () => parseLedgerLocation(ledger, `${file}: "ledger"`));
    config.ledger = ledger;
  }
  return config;
}

export const crlPem = (crl: x509.X509Crl) => toPem('X509 CRL', new Uint8Array(crl.rawData));

/** ca.json's text for a configuration. */
export const configText = (config: CaConfigUpdate) => `${JSON.stringify(config, null, 2)}\n`;

export const CA_FILES = {
  config: 'ca.json',
  roots: 'roots.pem',
  root: 'root.pem',
  previousRoot: 'previous-root.pem',
  intermediate: 'intermediate.pem',
  clusterCa: 'cluster-ca.pem',
  crossSigned: 'cross-signed.pem',
  ledger: 'ledger.sqlite',
} as const;

/** Whose CRL: the cluster intermediate's, the root's, or (during a rotation) the previous root's. */
const CRL_ROLES = ['root', 'intermediate', 'previous-root'] as const;
export type CrlRole = (typeof CRL_ROLES)[number];

/** Where a CA's CRL is kept, by the issuer's role. */
export function crlFile(role: CrlRole): string {
  return `crl/${role}.crl.pem`;
}

/** The ledger and the files SQLite keeps beside it. */
const LEDGER_FILES = ['', '-wal', '-shm', '-journal'].map((suffix) => `${CA_FILES.ledger}${suffix}`);

/** Every file Keyward reads or writes in a CA directory. */
const CA_PATHS = [...Object.values(CA_FILES), ...LEDGER_FILES, ...CRL_ROLES.map(crlFile)];

const CREATE_ROOT_HINT = 'create a root: keyward ca root create --key <uri>';

export interface CaDirectoryOptions {
  /** Where the ledger is (--ledger): "sqlite" or a postgres:// URL; else ca.json's "ledger", else ledger.sqlite. */
  ledger?: string;
}

export class CaDirectory {
  readonly dir: string;
  readonly #confined: ConfinedDirectory;
  readonly #ledger: LedgerLocation | undefined;
  #checked = false;

  constructor(dir: string, options: CaDirectoryOptions = {}) {
    this.dir = resolve(dir);
    this.#confined = new ConfinedDirectory(this.dir, 'a CA directory');
    this.#ledger = options.ledger === undefined ? undefined : parseLedgerLocation(options.ledger);
  }

  /**
   * The directory's files, all of them checked at first use (no links, nothing but regular files),
   * so that a step refuses before it has changed anything rather than halfway. Each read and write
   * still checks its own path, for what changes while Keyward runs (ca serve).
   */
  get #files(): ConfinedDirectory {
    if (!this.#checked) {
      for (const file of CA_PATHS) this.#confined.entry(file);
      this.#checked = true;
    }
    return this.#confined;
  }

  path(file: string): string {
    return this.#confined.path(file);
  }

  exists(file: string): boolean {
    return this.#files.entry(file) !== undefined;
  }

  /** ca.json, checked (parseCaConfig); its key URIs are marked as read from it. */
  config(): CaConfig {
    const file = this.path(CA_FILES.config);
    const text = this.read(CA_FILES.config);
    if (text === undefined) return { format: 1, nodeDays: 90 };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw keywardError('CA_CONFIG_CORRUPT', `${file} is not valid JSON`, { cause });
    }
    return parseCaConfig(value, file);
  }

  saveConfig(config: CaConfigUpdate): void {
    this.write(CA_FILES.config, configText(config));
  }

  write(file: string, content: string): void {
    this.#files.write(file, content);
  }

  /** Removes a file of the directory, if it is there. */
  remove(file: string): void {
    this.#files.remove(file);
  }

  /** Publishes a CRL where the CA server and relying parties look for its issuer's. */
  saveCrl(role: CrlRole, crl: x509.X509Crl): void {
    this.write(crlFile(role), crlPem(crl));
  }

  read(file: string): string | undefined {
    return this.#files.read(file);
  }

  /** A file the CA needs: its text, or an error naming the file and how it comes to be. */
  #required(file: string, what: string, hint: string): string {
    const text = this.read(file);
    if (!text) {
      this.requireCa(); // a mistyped --dir is no CA at all, not a CA without its root
      throw keywardError('CA_FILE_MISSING', `this CA has no ${what} (${this.path(file)})`, { hint });
    }
    return text;
  }

  certificates(file: string, what: string, hint: string): x509.X509Certificate[] {
    return pemBlocks(this.#required(file, what, hint), 'CERTIFICATE').map((der) => new x509.X509Certificate(der));
  }

  root(): x509.X509Certificate {
    return this.certificates(CA_FILES.root, 'root certificate', CREATE_ROOT_HINT)[0]!;
  }

  /** roots.pem as it is served to relying parties. */
  rootBundle(): string {
    return this.#required(CA_FILES.roots, 'root bundle', CREATE_ROOT_HINT);
  }

  /** The trusted roots (both during a rotation). */
  roots(): x509.X509Certificate[] {
    return this.certificates(CA_FILES.roots, 'root bundle', CREATE_ROOT_HINT);
  }

  intermediate(): x509.X509Certificate {
    return this.certificates(
      CA_FILES.intermediate,
      'intermediate certificate',
      'create one in a ceremony: keyward ca intermediate create --root-key <uri> --key <uri> --cluster-id <id>',
    )[0]!;
  }

  /**
   * The cluster CA as its swarm trusts it (self-signed; same subject and key as the intermediate),
   * or undefined in a directory made before Keyward issued one (its nodes chain to the root only).
   */
  clusterCa(): x509.X509Certificate | undefined {
    return this.exists(CA_FILES.clusterCa) ? this.certificates(CA_FILES.clusterCa, 'cluster CA certificate', '')[0] : undefined;
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
      throw keywardError('CA_NOT_FOUND', `${this.dir} is not a Keyward CA directory (it has no ${CA_FILES.config})`, {
        hint: 'check --dir (or KEYWARD_CA_DIR); a CA starts with: keyward ca root create --key <uri> --dir <dir>',
      });
    }
  }

  /** Where this CA's ledger is: as given (--ledger), else as ca.json says, else the directory's ledger.sqlite. */
  ledgerLocation(): LedgerLocation {
    if (this.#ledger) return this.#ledger;
    const named = this.exists(CA_FILES.config) ? this.config().ledger : undefined;
    return named === undefined ? { kind: 'sqlite' } : parseLedgerLocation(named, `${this.path(CA_FILES.config)} "ledger"`, { fromFile: true });
  }

  /**
   * The issuance ledger; only the steps that create a CA (`create`) may start a SQLite one where
   * there is none. A PostgreSQL ledger is made by `keyward ca ledger migrate`, never here.
   */
  async ledger(options: { create?: boolean } = {}): Promise<Ledger> {
    if (!options.create) this.requireCa();
    const location = this.ledgerLocation();
    if (location.kind === 'postgres') {
      const { PostgresLedger } = await import('./ledger/postgres.js');
      return PostgresLedger.open(location);
    }
    this.#ledgerExists();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return SqliteLedger.open(this.path(CA_FILES.ledger));
  }

  /** The ledger for a reading command (ca status), which creates and writes nothing: undefined where there is none. */
  async readOnlyLedger(): Promise<Ledger | undefined> {
    this.requireCa();
    const location = this.ledgerLocation();
    if (location.kind === 'postgres') {
      const { PostgresLedger } = await import('./ledger/postgres.js');
      return PostgresLedger.open(location, { readOnly: true });
    }
    return this.#ledgerExists() ? SqliteLedger.open(this.path(CA_FILES.ledger), { readOnly: true }) : undefined;
  }

  /**
   * Whether there is a ledger, its file and SQLite's beside it checked first. SQLite opens them by
   * name, following links, and creates what is missing; better-sqlite3 cannot pass it
   * SQLITE_OPEN_NOFOLLOW, so they are checked here (lstat) just before it opens them.
   */
  #ledgerExists(): boolean {
    for (const file of LEDGER_FILES) this.#files.entry(file);
    return this.#files.entry(CA_FILES.ledger) !== undefined;
  }
}
