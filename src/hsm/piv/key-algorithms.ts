/** Keyward's key algorithms ↔ PIV algorithm identifiers, and which firmware has them. */
import { ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { UsageError } from '../../errors.js';
import { ALGORITHM } from './spec.js';
import { formatVersion, versionAtLeast, type Version } from './yubico.js';

const PIV_IDS: Record<KeyAlgorithm, { id: number; since: Version }> = {
  p256: { id: ALGORITHM.ECCP256, since: [4, 0, 0] },
  p384: { id: ALGORITHM.ECCP384, since: [4, 0, 0] },
  rsa2048: { id: ALGORITHM.RSA2048, since: [4, 0, 0] },
  rsa3072: { id: ALGORITHM.RSA3072, since: [5, 7, 0] },
  rsa4096: { id: ALGORITHM.RSA4096, since: [5, 7, 0] },
  ed25519: { id: ALGORITHM.ED25519, since: [5, 7, 0] },
};

export function pivAlgorithmId(algorithm: KeyAlgorithm): number {
  return PIV_IDS[algorithm].id;
}

export function keyAlgorithmOf(pivId: number): KeyAlgorithm | undefined {
  return (Object.keys(PIV_IDS) as KeyAlgorithm[]).find((a) => PIV_IDS[a].id === pivId);
}

export function supportedAlgorithms(version: Version): KeyAlgorithm[] {
  return (Object.keys(PIV_IDS) as KeyAlgorithm[]).filter((a) => versionAtLeast(version, ...PIV_IDS[a].since));
}

export function requireAlgorithmSupport(algorithm: KeyAlgorithm, version: Version): number {
  const { id, since } = PIV_IDS[algorithm];
  if (!versionAtLeast(version, ...since)) {
    throw new UsageError('ALGORITHM_UNSUPPORTED', `${ALGORITHMS[algorithm].title} needs YubiKey firmware ${formatVersion(since)} or later; this one has ${formatVersion(version)}`, {
      hint: `choose one of ${supportedAlgorithms(version).join(', ')}`,
    });
  }
  return id;
}
