/** Ceremony step: the offline root, its key in a device and its self-signed certificate in the CA directory. */
import { keywardError } from '../../errors.js';
import type { GenerateOptions } from '../../keystore/backend.js';
import type { Keystore } from '../../keystore/keystore.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import { certificatePem } from '../../x509/certificate.js';
import { createRoot, ROOT_YEARS, yearsFromNow, type RootOptions } from '../issue.js';
import { CA_FILES, type CaDirectory } from '../store.js';
import { StepRecorder, type StepRecord, type StepRun } from './record.js';
import { checkKeyUri, checkSubject, openSigningKey, recordIssued } from './shared.js';

/** The root's key (made first with `generate`, copyable by a backup ceremony with `backup`), and its certificate's subject and lifetime. */
export interface RootCreateOptions extends RootOptions {
  key: KeyUri;
  generate?: GenerateOptions['algorithm'];
  backup?: GenerateOptions['backup'];
}

/** What `createRootCa` checks before any device is opened: a directory without a root, a key URI, a subject and lifetime that can be. */
export function checkRootCa(directory: CaDirectory, options: RootCreateOptions, now: Date): void {
  if (directory.exists(CA_FILES.root)) {
    throw keywardError('CA_ROOT_EXISTS', `${directory.path(CA_FILES.root)} already holds a root`, {
      hint: 'a CA has one root at a time; to replace it, rotate: keyward ca rotate-root begin --new-key <uri>',
    });
  }
  checkKeyUri(options.key, options.generate);
  if (options.subject !== undefined) checkSubject(options.subject);
  yearsFromNow(options.years ?? ROOT_YEARS, now);
}

export async function createRootCa(directory: CaDirectory, keystore: Keystore, options: RootCreateOptions, run: StepRun = {}): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.root.create', run);
  checkRootCa(directory, options, recorder.now);
  const signer = await openSigningKey(keystore, options.key, options.generate, recorder, 'root', options.backup);
  const root = await createRoot(signer, { subject: options.subject, years: options.years }, recorder.issuance);
  await recordIssued(directory, root, 'root', signer.spki, recorder);
  recorder.write(directory, CA_FILES.root, certificatePem(root));
  recorder.write(directory, CA_FILES.roots, certificatePem(root));
  recorder.saveConfig(directory, { ...directory.config(), rootKey: signer.handle.info.uri });
  return recorder.record;
}
