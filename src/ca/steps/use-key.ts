/**
 * Pointing a CA at another copy of one of its keys: after a restore ceremony puts the root's (or
 * the intermediate's) key on a new device, ca.json names the key there. The key must be the one
 * the CA's certificate certifies; which of its keys it is (root or intermediate) is read from that.
 *
 * A public key says nothing of the private key beside it: a restore stopped between storing the
 * copy's public key and unwrapping the key leaves a public key alone, and any private key may sit
 * under the CA's public key. So the key is proved (`proveCaKey`): it signs a fresh challenge, which
 * must verify with the certificate's public key. The backup and restore ceremonies prove their
 * copies with the same function.
 */
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { ALGORITHMS, algorithmOfKey, nodeHashName } from '../../crypto/algorithms.js';
import { KeywardError, keywardError } from '../../errors.js';
import type { KeyHandle } from '../../keystore/backend.js';
import type { Keystore } from '../../keystore/keystore.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import { samePublicKey } from '../../x509/public-key.js';
import { CA_FILES, type CaDirectory } from '../store.js';
import { sha256Hex, StepRecorder, type StepRecord, type StepRun } from './record.js';
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

/** A key's proof that it is the CA key its public key says: a challenge it signed, checked with the certificate. */
export interface CaKeyProof {
  challenge: string;
  /** The signature, hex. */
  signature: string;
  verifiedWith: { certificate: string; subject: string; sha256: string };
  verified: boolean;
}

export interface ProveOptions {
  /** Begins the challenge, before its random part: what the signature is for (`keyward restore proof <script sha256>`). */
  purpose: string;
  /** Told of the proof, verified or not, before a failed one is thrown (a ceremony records it). */
  record?: (proof: CaKeyProof) => void;
}

/**
 * Proves that `handle` holds the private key of the CA's `role` certificate: it signs a fresh
 * challenge, which must verify with that certificate's public key. Refuses a key without a private
 * key (NOT_A_PRIVATE_KEY) and one whose signature does not verify (KEY_COPY_PROOF_FAILED).
 */
export async function proveCaKey(directory: CaDirectory, role: CaKeyRole, handle: KeyHandle, options: ProveOptions): Promise<CaKeyProof> {
  const certificate = role === 'root' ? directory.root() : directory.intermediate();
  const file = role === 'root' ? CA_FILES.root : CA_FILES.intermediate;
  const certified = createPublicKey({ key: Buffer.from(certificate.publicKey.rawData), format: 'der', type: 'spki' });
  const info = ALGORITHMS[algorithmOfKey(certified) ?? handle.info.algorithm!];
  const challenge = Buffer.from(`${options.purpose} ${randomBytes(16).toString('hex')}`);
  let signature: Uint8Array;
  try {
    signature = await handle.sign(challenge, info.family === 'ed25519' ? {} : { hash: info.defaultHash });
  } catch (error) {
    if (!(error instanceof KeywardError && error.code === 'NOT_A_PRIVATE_KEY')) throw error;
    throw keywardError('NOT_A_PRIVATE_KEY', `${handle.info.uri} has the ${role} key's public key but no private key on ${handle.info.device}: it cannot sign`, {
      cause: error,
      hint: `a restore stopped before the key was unwrapped leaves its public key alone: run the restore ceremony again with --resume (keyward ceremony run <script> --out <dir> --resume), then name the key`,
    });
  }
  const verified = verify(info.family === 'ed25519' ? null : nodeHashName(info.defaultHash), challenge, certified, signature);
  const proof: CaKeyProof = {
    challenge: challenge.toString('utf8'),
    signature: Buffer.from(signature).toString('hex'),
    verifiedWith: { certificate: file, subject: certificate.subject, sha256: sha256Hex(new Uint8Array(certificate.rawData)) },
    verified,
  };
  options.record?.(proof);
  if (!verified) {
    throw keywardError(
      'KEY_COPY_PROOF_FAILED',
      `${handle.info.uri} on ${handle.info.device} has the ${role} key's public key but signed a challenge that does not verify with ${file}: its private key is another key`,
      { hint: 'do not use it: it is not the key the CA certifies; find out where it came from before anything else (keyward key list)' },
    );
  }
  return proof;
}

/** What `useCaKey` checks before any device is opened: a CA with a root, a key URI. */
export function checkUseCaKey(directory: CaDirectory, options: { key: KeyUri }): void {
  directory.requireCa();
  directory.root();
  checkKeyUri(options.key);
}

export interface UseCaKeyOptions {
  key: KeyUri;
  /** The proof's challenge begins with it (default `keyward ca use-key proof`); `record` is told of the proof. */
  proof?: Partial<ProveOptions>;
}

/**
 * ca.json names `key` for the CA key it is: the root's or the intermediate's, by the certificate
 * its public key is in, and proved to hold that certificate's private key (`proveCaKey`).
 */
export async function useCaKey(directory: CaDirectory, keystore: Keystore, options: UseCaKeyOptions, run: StepRun = {}): Promise<StepRecord> {
  const recorder = new StepRecorder('ca.use-key', run);
  checkUseCaKey(directory, options);
  const handle = await keystore.open(options.key);
  const role = caKeyRole(directory, await handle.publicKey());
  if (!role) throw notTheCasKey(directory, handle.info.uri);
  await recorder.key(role, handle, false);
  const proof = await proveCaKey(directory, role, handle, { purpose: 'keyward ca use-key proof', ...options.proof });
  // Opened before any login, a token shows only the public object; signing logged in: now the URI names the private key.
  const { uri } = (await keystore.open(options.key)).info;
  const config = directory.config();
  recorder.saveConfig(directory, { ...config, ...(role === 'root' ? { rootKey: uri } : { intermediateKey: uri }) });
  recorder.record.outputs = {
    [role === 'root' ? 'rootKey' : 'intermediateKey']: uri,
    proof: `the key signed a fresh challenge ("${proof.challenge}"); it verifies with ${proof.verifiedWith.certificate}`,
  };
  return recorder.record;
}
