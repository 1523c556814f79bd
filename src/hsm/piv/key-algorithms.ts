/** Keyward's key algorithms ↔ PIV algorithm identifiers; which firmware has them is in spec.ts. */
import { ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { keywardError } from '../../errors.js';
import { ALGORITHM, algorithmSince, algorithmSupported, formatVersion, type Version } from './spec.js';

const PIV_IDS: Record<KeyAlgorithm, number> = {
  p256: ALGORITHM.ECCP256,
  p384: ALGORITHM.ECCP384,
  rsa2048: ALGORITHM.RSA2048,
  rsa3072: ALGORITHM.RSA3072,
  rsa4096: ALGORITHM.RSA4096,
  ed25519: ALGORITHM.ED25519,
};

export function keyAlgorithmOf(pivId: number): KeyAlgorithm | undefined {
  return (Object.keys(PIV_IDS) as KeyAlgorithm[]).find((a) => PIV_IDS[a] === pivId);
}

export function supportedAlgorithms(version: Version): KeyAlgorithm[] {
  return (Object.keys(PIV_IDS) as KeyAlgorithm[]).filter((a) => algorithmSupported(PIV_IDS[a], version));
}

export function requireAlgorithmSupport(algorithm: KeyAlgorithm, version: Version): number {
  const id = PIV_IDS[algorithm];
  if (!algorithmSupported(id, version)) {
    throw keywardError(
      'ALGORITHM_UNSUPPORTED',
      `${ALGORITHMS[algorithm].title} needs YubiKey firmware ${formatVersion(algorithmSince(id)!)} or later; this one has ${formatVersion(version)}`,
      {
        hint: `choose one of ${supportedAlgorithms(version).join(', ')}`,
      },
    );
  }
  return id;
}
