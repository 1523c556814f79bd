/**
 * Swarm join tokens: SWMTKN-1-<digest>-<secret>. The digest (SHA-256 of the root CA bundle, in
 * base 36, padded to 50) lets a joining node pin the cluster's root before it trusts anything; the
 * secret (16 random bytes, base 36, padded to 25) is what a manager checks.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { keywardError } from '../errors.js';

const FORMAT = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/;

function base36(bytes: Uint8Array, width: number): string {
  const text = BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`).toString(36);
  return text.padStart(width, '0');
}

/** The digest part for a root bundle (the PEM bytes, as SwarmKit hashes them). */
export function rootDigest(rootBundlePem: string | Uint8Array): string {
  return base36(createHash('sha256').update(rootBundlePem).digest(), 50);
}

export function createJoinToken(rootBundlePem: string | Uint8Array): string {
  return `SWMTKN-1-${rootDigest(rootBundlePem)}-${base36(randomBytes(16), 25)}`;
}

export interface ParsedJoinToken {
  digest: string;
  secret: string;
}

export function parseJoinToken(token: string): ParsedJoinToken {
  const match = FORMAT.exec(token.trim());
  if (!match) {
    throw keywardError('JOIN_TOKEN_MALFORMED', 'not a Swarm join token', {
      hint: 'a join token looks like SWMTKN-1-<50 base-36 characters>-<25 base-36 characters>',
    });
  }
  return { digest: match[1]!, secret: match[2]! };
}

/** Checks that a token pins this root bundle; throws if it pins another. */
export function verifyJoinToken(token: string, rootBundlePem: string | Uint8Array): ParsedJoinToken {
  const parsed = parseJoinToken(token);
  const expected = Buffer.from(rootDigest(rootBundlePem));
  if (!timingSafeEqual(Buffer.from(parsed.digest), expected)) {
    throw keywardError('JOIN_TOKEN_ROOT_MISMATCH', 'the join token pins another root CA than this bundle', {
      hint: "the cluster's root was rotated or this is another cluster's token: get a fresh token from a manager",
    });
  }
  return parsed;
}
