/**
 * Root rotation, in two steps: `beginRootRotation` (a ceremony with both root keys) and, once
 * every cluster's intermediate hangs from the new root, `finishRootRotation`.
 */
import { keywardError } from '../../errors.js';
import type { GenerateOptions } from '../../keystore/backend.js';
import type { Keystore } from '../../keystore/keystore.js';
import { certificatePem } from '../../x509/certificate.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import { samePublicKey } from '../../x509/public-key.js';
import { CRL_DAYS } from '../crl.js';
import { createRoot, crossSign, ROOT_YEARS, yearsFromNow, type RootOptions } from '../issue.js';
import { CA_FILES, crlFile, type CaDirectory } from '../store.js';
import { StepRecorder, type StepRecord, type StepRun } from './record.js';
import { checkKeyUri, checkSubject, issuedByRoot, openRoot, openSigningKey, recordIssued, writeCrl } from './shared.js';

/** The new root's key (made first with `generate`), and its certificate's subject (the old one's by default) and lifetime. */
export interface RotationOptions extends RootOptions {
  newKey: KeyUri;
  generate?: GenerateOptions['algorithm'];
  /** `wrap`: the new root's key is copyable to a second token by a backup ceremony. */
  backup?: GenerateOptions['backup'];
}

/** What `beginRootRotation` checks before any device is opened. */
export function checkRootRotation(directory: CaDirectory, options: RotationOptions, now: Date): KeyUri {
  directory.requireCa();
  const config = directory.config();
  if (directory.exists(CA_FILES.crossSigned)) {
    throw keywardError('ROTATION_IN_PROGRESS', 'a root rotation is already under way', { hint: 'finish it first: keyward ca rotate-root finish' });
  }
  if (!config.rootKey) throw keywardError('CA_NOT_READY', 'this CA has no root key recorded');
  checkKeyUri(options.newKey, options.generate);
  if (options.subject !== undefined) checkSubject(options.subject);
  yearsFromNow(options.years ?? ROOT_YEARS, now);
  directory.root();
  return config.rootKey;
}

/**
 * Begins a root rotation: a new root, cross-signed by the old one. Both are trusted (roots.pem
 * holds both) while nodes move to certificates from a new intermediate under the new root;
 * old-root clients accept those through the cross-signed root.
 */
export async function beginRootRotation(directory: CaDirectory, keystore: Keystore, options: RotationOptions, run: StepRun = {}): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.rotate-root.begin', run);
  const oldRootKey = checkRootRotation(directory, options, recorder.now);
  const config = directory.config();
  const { root: oldRoot, rootCertificate: oldCertificate } = await openRoot(directory, keystore, oldRootKey, recorder, 'old-root');
  const newRoot = await openSigningKey(keystore, options.newKey, options.generate, recorder, 'new-root', options.backup);
  if (samePublicKey(newRoot.spki, oldRoot.spki)) {
    throw keywardError('ROTATION_SAME_KEY', 'the new root key is the old one: a rotation needs a new key');
  }
  const root = await createRoot(newRoot, { subject: options.subject ?? oldCertificate.subject, years: options.years }, recorder.issuance);
  const crossSigned = await crossSign(oldRoot, oldCertificate, root, recorder.issuance);
  await recordIssued(directory, root, 'root', newRoot.spki, recorder);
  await recordIssued(directory, crossSigned, 'cross-signed-root', oldRoot.spki, recorder);
  recorder.write(directory, CA_FILES.previousRoot, certificatePem(oldCertificate));
  recorder.write(directory, CA_FILES.root, certificatePem(root));
  recorder.write(directory, CA_FILES.crossSigned, certificatePem(crossSigned));
  recorder.write(directory, CA_FILES.roots, certificatePem(oldCertificate) + certificatePem(root));
  recorder.saveConfig(directory, { ...config, rootKey: newRoot.handle.info.uri, previousRootKey: oldRootKey });
  // Both roots are present now: each signs the CRL its relying parties will check.
  await writeCrl(directory, 'root', newRoot, root, CRL_DAYS.root, recorder);
  await writeCrl(directory, 'previous-root', oldRoot, oldCertificate, CRL_DAYS.root, recorder);
  return recorder.record;
}

/**
 * Ends a rotation: the old root is no longer trusted. A cluster CA refuses while its intermediate
 * still hangs from the old root; a root-only directory (split ceremonies) has no intermediate to
 * check, so its rotation is finished after every cluster CA has finished its own.
 */
export async function finishRootRotation(directory: CaDirectory, run: StepRun = {}): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.rotate-root.finish', run);
  directory.requireCa();
  if (!directory.exists(CA_FILES.crossSigned)) throw keywardError('NO_ROTATION', 'no root rotation is under way');
  const root = directory.root();
  if (directory.exists(CA_FILES.intermediate) && !issuedByRoot(directory.intermediate(), root)) {
    throw keywardError('ROTATION_NOT_READY', 'the cluster intermediate is still issued by the old root', {
      hint: 'have the new root sign a new intermediate first (keyward ca intermediate create --root-key <new root key> --key <uri>, or request, create --csr, install)',
    });
  }
  const config = directory.config();
  recorder.write(directory, CA_FILES.roots, certificatePem(root));
  recorder.remove(directory, CA_FILES.crossSigned);
  recorder.remove(directory, CA_FILES.previousRoot);
  recorder.remove(directory, crlFile('previous-root'));
  const { previousRootKey: _retired, ...rest } = config;
  recorder.saveConfig(directory, rest);
  return recorder.record;
}
