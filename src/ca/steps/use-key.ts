/**
 * Pointing a CA at another copy of one of its keys: after a restore ceremony puts the root's (or
 * the intermediate's) key on a new device, ca.json names the key there. The key must be the one
 * the CA's certificate certifies; which of its keys it is (root or intermediate) is read from that.
 */
import { keywardError, type KeywardError } from '../../errors.js';
import type { Keystore } from '../../keystore/keystore.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import { samePublicKey } from '../../x509/public-key.js';
import { CA_FILES, type CaDirectory } from '../store.js';
import { StepRecorder, type StepRecord, type StepRun } from './record.js';
import { checkKeyUri } from './shared.js';

export type CaKeyRole = 'root' | 'intermediate';

/** Which of the CA's certificates (root, intermediate) certifies `spki`; undefined when none does. */
export function caKeyRole(directory: CaDirectory, spki: Uint8Array): CaKeyRole | undefined {
  directory.requireCa();
  if (samePublicKey(directory.root().publicKey, spki)) return 'root';
  if (directory.exists(CA_FILES.intermediate) && samePublicKey(directory.intermediate().publicKey, spki)) return 'intermediate';
  return undefined;
}

/** The error for a key that is none of the CA's. */
export function notTheCasKey(directory: CaDirectory, what: string): KeywardError {
  return keywardError('KEY_NOT_OF_CA', `${what} is neither the key of this CA's root nor of its intermediate (${directory.dir})`, {
    hint: 'name the CA directory whose certificate is for this key, or the key its root.pem or intermediate.pem certifies',
  });
}

/** What `useCaKey` checks before any device is opened: a CA with a root, a key URI. */
export function checkUseCaKey(directory: CaDirectory, options: { key: KeyUri }): void {
  directory.requireCa();
  directory.root();
  checkKeyUri(options.key);
}

/** ca.json names `key` for the CA key it is (checked against the certificates): the root's, or the intermediate's. */
export async function useCaKey(directory: CaDirectory, keystore: Keystore, options: { key: KeyUri }, run: StepRun = {}): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.use-key', run);
  checkUseCaKey(directory, options);
  const handle = await keystore.open(options.key);
  const role = caKeyRole(directory, await handle.publicKey());
  if (!role) throw notTheCasKey(directory, handle.info.uri);
  await recorder.key(role, handle, false);
  const config = directory.config();
  recorder.saveConfig(directory, { ...config, ...(role === 'root' ? { rootKey: handle.info.uri } : { intermediateKey: handle.info.uri }) });
  recorder.record.outputs = { [role === 'root' ? 'rootKey' : 'intermediateKey']: handle.info.uri };
  return recorder.record;
}
