/**
 * What you sign is what you see. Staged changes are files anyone who can write the repository's
 * directory can make; a key holder who signs a staged role signs everything in it, not only their
 * own change. So a signature over content the signer did not make waits for the signer's approval
 * of a readable diff, or, with no one to ask, for the digest of the staged changes the signer
 * reviewed (`trust repo status` prints it).
 */
import { createHash } from 'node:crypto';
import { keywardError } from '../../errors.js';
import { canonicalBytes } from '../canonical-json.js';
import type { Signed } from '../metadata.js';
import { stagedInOrder } from './requirements.js';
import type { RepositoryState } from './state.js';

export interface RoleReview {
  role: string;
  version: number;
  /** One line per change: `+ path: value`, `- path: value`, `~ path: old → new`. */
  changes: string[];
}

/** Content about to be signed that the signer did not make, and the digest that names it. */
export interface Review {
  /** `sha256:…` of the staged changes as they were on disk (what `trust repo status` shows). */
  digest: string;
  roles: RoleReview[];
}

/** Decides whether to sign what a review shows: returns to sign, throws to refuse. */
export type Approval = (review: Review) => Promise<void> | void;

/**
 * The digest of the staged changes (call it before a change is made: on disk alone): of each staged role's signed content (signatures are
 * not content), by role name. It changes when anyone changes what would be signed.
 */
export function stagedDigest(state: RepositoryState): string {
  const roles: Record<string, string> = {};
  for (const metadata of stagedInOrder(state)) roles[metadata.role] = createHash('sha256').update(metadata.canonical).digest('hex');
  return `sha256:${createHash('sha256').update(canonicalBytes(roles)).digest('hex')}`;
}

/** Refuses --expect that names other staged changes than the ones on disk. */
export function checkExpected(review: Review, expected: string): void {
  if (review.digest === expected) return;
  throw keywardError('TUF_STAGED_CHANGED', `the staged changes are not the ones you reviewed: their digest is ${review.digest}, not ${expected}`, {
    hint: 'someone changed them since: review them again (keyward trust repo status) and pass the digest it prints',
  });
}

const LONG_ID = /^[0-9a-f]{64}$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function pathOf(parent: string, key: string): string {
  const shown = LONG_ID.test(key) ? `${key.slice(0, 12)}…` : key;
  if (IDENTIFIER.test(shown) || LONG_ID.test(key)) return parent ? `${parent}.${shown}` : shown;
  return `${parent}[${JSON.stringify(shown)}]`;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every difference between two JSON values, one line each (objects entered, arrays and scalars whole). */
function diff(before: unknown, after: unknown, path: string, out: string[]): void {
  if (isObject(before) && isObject(after)) {
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) out.push(`- ${pathOf(path, key)}: ${show(before[key])}`);
    for (const key of Object.keys(after)) {
      if (!Object.hasOwn(before, key)) out.push(`+ ${pathOf(path, key)}: ${show(after[key])}`);
      else diff(before[key], after[key], pathOf(path, key), out);
    }
    return;
  }
  if (canonicalBytes(before as object).equals(canonicalBytes(after as object))) return;
  out.push(`~ ${path}: ${show(before)} → ${show(after)}`);
}

/**
 * The changes from `seen` (what the signer knows of: published, plus their own change) to `signed`
 * (what would be signed). The version and expiry are the writer's own (checked when a staged file
 * is read), not content.
 */
export function changesOf(seen: Signed | undefined, signed: Signed): string[] {
  const strip = ({ version: _version, expires: _expires, ...content }: Signed) => content;
  const out: string[] = [];
  diff(seen ? strip(seen) : {}, strip(signed), '', out);
  return out;
}
