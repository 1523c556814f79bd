/** Ceremony step: the offline root, its key in a device and its self-signed certificate in the CA directory. */
import { keywardError } from '../../errors.js';
import type { GenerateOptions } from '../../keystore/backend.js';
import type { Keystore } from '../../keystore/keystore.js';
import { certificatePem } from '../../x509/certificate.js';
import type * as x509 from '../../x509/peculiar.js';
import { createRoot, type RootOptions } from '../issue.js';
import { CA_FILES, type CaDirectory } from '../store.js';
import { openSigningKey, recordIssued } from './shared.js';

/** The root's key (made first with `generate`), and its certificate's subject and lifetime. */
export interface RootCreateOptions extends RootOptions {
  key: string;
  generate?: GenerateOptions['algorithm'];
}

export async function createRootCa(directory: CaDirectory, keystore: Keystore, options: RootCreateOptions): Promise<x509.X509Certificate> {
  if (directory.exists(CA_FILES.root)) {
    throw keywardError('CA_ROOT_EXISTS', `${directory.path(CA_FILES.root)} already holds a root`, {
      hint: 'a CA has one root at a time; to replace it, rotate: keyward ca rotate-root begin --new-key <uri>',
    });
  }
  const signer = await openSigningKey(keystore, options.key, options.generate);
  const root = await createRoot(signer, { subject: options.subject, years: options.years });
  await recordIssued(directory, root, 'root', signer.spki);
  directory.write(CA_FILES.root, certificatePem(root));
  directory.write(CA_FILES.roots, certificatePem(root));
  directory.saveConfig({ ...directory.config(), rootKey: signer.handle.info.uri });
  return root;
}
