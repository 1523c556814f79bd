/**
 * Revocation: any certificate this CA directory issued is revoked in its ledger; CRLs publish it,
 * the intermediate's (online) for node certificates, the root's (in a ceremony) for intermediates.
 */
import { keywardError } from '../../errors.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import type { Keystore } from '../../keystore/keystore.js';
import { keyIdentifierOf } from '../../x509/key-identifier.js';
import { spkiOf } from '../../x509/public-key.js';
import { SigningKey } from '../../certificates/signer.js';
import { CRL_DAYS } from '../crl.js';
import { normalizeSerial, type RevocationReason } from '../ledger/ledger.js';
import type { CaDirectory } from '../store.js';
import { StepRecorder, type StepRecord, type StepRun } from './record.js';
import { checkKeyUri, openRoot, writeCrl } from './shared.js';

export interface RevokeOptions {
  serial: string;
  reason: RevocationReason;
}

/**
 * Revokes a certificate. The record's ledger entry says which (with its status and reason), and
 * `outputs.crl` whose CRL will carry it (to be signed next: `root` or `intermediate`).
 */
export async function revokeCertificate(directory: CaDirectory, options: RevokeOptions, run: StepRun = {}): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.revoke', run);
  const ledger = await directory.ledger();
  try {
    const entry = await ledger.revoke(normalizeSerial(options.serial), options.reason, recorder.now);
    const byRoot = entry.issuerKeyId === keyIdentifierOf(spkiOf(directory.root().publicKey)).toString('hex');
    recorder.ledger({
      serial: entry.serial,
      profile: entry.profile,
      issuerKeyId: entry.issuerKeyId,
      subject: entry.subject,
      status: entry.status,
      ...(entry.revocationReason ? { reason: entry.revocationReason } : {}),
    });
    recorder.record.outputs.crl = byRoot ? 'root' : 'intermediate';
    return recorder.record;
  } finally {
    await ledger.close();
  }
}

export interface RootCrlOptions {
  rootKey: KeyUri;
  days?: number;
}

/** What `signRootCrl` checks before any device is opened. */
export function checkRootCrl(directory: CaDirectory, options: RootCrlOptions): void {
  directory.requireCa();
  directory.root();
  checkKeyUri(options.rootKey);
  checkCrlDays(options.days);
}

/** A CRL's validity: whole days, at most a year (RFC 5280 leaves it to policy; relying parties refuse a stale one). */
function checkCrlDays(days: number | undefined): void {
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 366)) {
    throw keywardError('VALIDITY_INVALID', `a CRL valid for ${days} days is not possible: give 1 to 366`);
  }
}

/** The root's CRL, signed in a ceremony (the root revokes intermediates, if ever). The CRL is the record's `crls[0]`. */
export async function signRootCrl(directory: CaDirectory, keystore: Keystore, options: RootCrlOptions, run: StepRun = {}): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.crl.root', run);
  checkRootCrl(directory, options);
  const { root, rootCertificate } = await openRoot(directory, keystore, options.rootKey, recorder);
  await writeCrl(directory, 'root', root, rootCertificate, options.days ?? CRL_DAYS.root, recorder);
  return recorder.record;
}

export interface IntermediateCrlOptions {
  days?: number;
}

/** The intermediate's CRL (online: the intermediate's key signs it). */
export async function signIntermediateCrl(
  directory: CaDirectory,
  keystore: Keystore,
  options: IntermediateCrlOptions = {},
  run: StepRun = {},
): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.crl.intermediate', run);
  directory.requireCa();
  checkCrlDays(options.days);
  const config = directory.config();
  if (!config.intermediateKey) throw keywardError('CA_NOT_READY', 'this CA has no intermediate yet');
  const signer = await SigningKey.of(await keystore.open(config.intermediateKey));
  await recorder.key('intermediate', signer, false);
  await writeCrl(directory, 'intermediate', signer, directory.intermediate(), options.days ?? CRL_DAYS.intermediate, recorder);
  return recorder.record;
}
