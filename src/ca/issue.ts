/**
 * Signing certificates with a CA key held by the keystore: the root (self-signed), a cluster
 * intermediate, a root cross-signed by its predecessor. x509 builds them; the device signs.
 */
import { keywardError } from '../errors.js';
import type * as x509 from '../x509/peculiar.js';
import { spkiOf } from '../x509/public-key.js';
import { signCertificate, type CertificateFields, SigningKey } from '../certificates/signer.js';
import { clusterCaExtensions, crossSignedExtensions, intermediateExtensions, rootExtensions, type PublicationUrls } from './profiles.js';
import { randomSerial } from '../x509/serial.js';
import { tbsBytes } from '../x509/certificate.js';

/** Certificates start a little in the past: clocks in a cluster are never quite in step. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 86_400_000;

/** A certificate's fields but those the CA decides: its serial, and its start (now, backdated). */
export type IssueParams = Omit<CertificateFields, 'serialNumber' | 'notBefore'>;

/**
 * Someone shown each certificate before the CA's key signs it: the draft is the certificate exactly
 * as it will be signed (the same to-be-signed bytes) but signed by a throw-away key. Throwing stops
 * the issue before the key signs anything.
 */
export type CertificateReview = (draft: x509.X509Certificate, profile: string) => Promise<void>;

/**
 * When certificates are issued, and who sees them first. The caller reads the clock, once: a
 * ceremony fixes its time at the start and every certificate and CRL of it says that time.
 */
export interface Issuance {
  now: Date;
  review?: CertificateReview;
}

/** `now`, less the allowance for clocks behind ours: when a certificate issued at `now` starts. */
export function backdatedNow(now: Date): Date {
  return new Date(now.getTime() - BACKDATE_MS);
}

/** A certificate may not outlive its issuer: relying parties would stop accepting it early, and silently. */
export function checkWithinIssuer(notAfter: Date, issuer: x509.X509Certificate): void {
  if (notAfter > issuer.notAfter) {
    throw keywardError(
      'VALIDITY_EXCEEDS_ISSUER',
      `the certificate would outlive its issuer "${issuer.subject}" (valid until ${issuer.notAfter.toISOString()})`,
      {
        hint: 'shorten the validity, or renew the issuer first',
      },
    );
  }
}

/**
 * Issues a certificate under this CA's rules: a fresh serial, backdated, and not outliving its
 * issuer. With a review, the same fields are first signed by a throw-away key of the signer's
 * algorithm and shown; the device signs only after, and what it signed must be what was shown.
 */
export async function issueCertificate(
  signer: SigningKey,
  issuer: x509.X509Certificate | 'self',
  params: IssueParams,
  issuance: Issuance,
  profile = 'certificate',
): Promise<x509.X509Certificate> {
  if (issuer !== 'self') checkWithinIssuer(params.notAfter, issuer);
  const fields = { ...params, serialNumber: randomSerial(), notBefore: backdatedNow(issuance.now) };
  if (!issuance.review) return signCertificate(signer, issuer, fields);
  const draft = await signCertificate(await SigningKey.standIn(signer), issuer, fields);
  await issuance.review(draft, profile);
  const signed = await signCertificate(signer, issuer, fields);
  if (!Buffer.from(tbsBytes(new Uint8Array(signed.rawData))).equals(tbsBytes(new Uint8Array(draft.rawData)))) {
    throw keywardError('TBS_MISMATCH', `the ${profile} certificate the device signed differs from the one reviewed`, {
      hint: 'nothing was recorded or written; report this as a bug, with --debug output',
    });
  }
  return signed;
}

export function daysFromNow(days: number, now: Date): Date {
  if (!Number.isFinite(days) || days <= 0) throw keywardError('VALIDITY_INVALID', `a validity of ${days} days is not possible`);
  return new Date(backdatedNow(now).getTime() + days * DAY_MS);
}

/**
 * `years` calendar years from now (backdated like every start): the same date and time that many
 * years on, leap days counted; from 29 February to 28 February when the year has none.
 */
export function yearsFromNow(years: number, now: Date): Date {
  if (!Number.isSafeInteger(years) || years <= 0) throw keywardError('VALIDITY_INVALID', `a validity of ${years} years is not possible`);
  const start = backdatedNow(now);
  const end = new Date(start);
  end.setUTCFullYear(start.getUTCFullYear() + years);
  if (end.getUTCMonth() !== start.getUTCMonth()) end.setUTCDate(0); // 29 February → 1 March: back to 28 February
  return end;
}

export interface RootOptions {
  subject?: string;
  years?: number;
}

/** A root's validity unless told: 20 years (SwarmKit's root lifetime). */
export const ROOT_YEARS = 20;

/** The offline root: self-signed in its device, ROOT_YEARS by default. */
export function createRoot(signer: SigningKey, options: RootOptions, issuance: Issuance): Promise<x509.X509Certificate> {
  return issueCertificate(
    signer,
    'self',
    {
      subject: options.subject ?? 'CN=swarm-ca',
      spki: signer.spki,
      notAfter: yearsFromNow(options.years ?? ROOT_YEARS, issuance.now),
      extensions: rootExtensions(signer.spki),
    },
    issuance,
    'root',
  );
}

export interface IntermediateOptions {
  clusterId: string;
  /** The intermediate key's SPKI (its device need not be present while the root signs). */
  spki: Uint8Array;
  subject?: string;
  days?: number;
  urls?: PublicationUrls;
}

/** An intermediate's validity unless told: five years. */
export const INTERMEDIATE_DAYS = 5 * 365;

export const intermediateSubject = (clusterId: string) => `O=${clusterId}, CN=swarm-ca intermediate`;

/** A cluster's intermediate, signed by the root (in a ceremony: the root key comes out only then). */
export function createIntermediate(
  root: SigningKey,
  rootCertificate: x509.X509Certificate,
  options: IntermediateOptions,
  issuance: Issuance,
): Promise<x509.X509Certificate> {
  return issueCertificate(
    root,
    rootCertificate,
    {
      subject: options.subject ?? intermediateSubject(options.clusterId),
      spki: options.spki,
      notAfter: daysFromNow(options.days ?? INTERMEDIATE_DAYS, issuance.now),
      extensions: intermediateExtensions(options.spki, root.spki, options.clusterId, options.urls),
    },
    issuance,
    'intermediate',
  );
}

/**
 * The cluster CA certificate a swarm trusts: the subject and key of the root's certificate for the
 * cluster's key, self-signed by that key (online: the root is not needed), expiring with it.
 */
export function createClusterCa(signer: SigningKey, intermediate: x509.X509Certificate, issuance: Issuance): Promise<x509.X509Certificate> {
  return issueCertificate(
    signer,
    'self',
    {
      subject: intermediate.subjectName,
      spki: signer.spki,
      notAfter: intermediate.notAfter,
      extensions: clusterCaExtensions(signer.spki),
    },
    issuance,
    'cluster-ca',
  );
}

/**
 * Root rotation: the new root's subject and key, issued by the old root. Clients that trust only
 * the old root reach new-root leaves through it; clients with the new root need nothing else.
 */
export function crossSign(
  oldRoot: SigningKey,
  oldRootCertificate: x509.X509Certificate,
  newRootCertificate: x509.X509Certificate,
  issuance: Issuance,
): Promise<x509.X509Certificate> {
  const spki = spkiOf(newRootCertificate.publicKey);
  return issueCertificate(
    oldRoot,
    oldRootCertificate,
    {
      subject: newRootCertificate.subjectName,
      spki,
      notAfter: newRootCertificate.notAfter < oldRootCertificate.notAfter ? newRootCertificate.notAfter : oldRootCertificate.notAfter,
      extensions: crossSignedExtensions(spki, oldRoot.spki),
    },
    issuance,
    'cross-signed-root',
  );
}
