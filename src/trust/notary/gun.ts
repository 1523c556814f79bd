/**
 * Globally Unique Names (a GUN is an image repository's name with its registry:
 * `registry.example:5000/team/app`) and `GUN:TAG` references, checked before they reach a URL or a
 * file name.
 */
import { keywardError } from '../../errors.js';
import { quoted } from '../../quoted.js';

// A registry host (with a port), then path components as Docker names them (lower case, separators inside).
const GUN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/;
// Docker's tag grammar.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function checkGun(gun: string): string {
  if (gun.length <= 255 && GUN.test(gun)) return gun;
  throw keywardError('NOTARY_REFERENCE', `${quoted(gun)} is not a GUN (a registry and repository name)`, {
    hint: 'e.g. registry.example:5000/team/app or docker.io/library/alpine',
  });
}

export function checkTag(tag: string): string {
  if (TAG.test(tag)) return tag;
  throw keywardError('NOTARY_REFERENCE', `${quoted(tag)} is not an image tag`, { hint: 'a tag is letters, digits, "_", "." and "-", at most 128, e.g. v1.2' });
}

/** `GUN:TAG` (the tag after the last ":" that follows the last "/"); the tag is required when `needTag`. */
export function parseReference(reference: string, needTag: true): { gun: string; tag: string };
export function parseReference(reference: string, needTag?: boolean): { gun: string; tag?: string };
export function parseReference(reference: string, needTag = false): { gun: string; tag?: string } {
  const colon = reference.lastIndexOf(':');
  const hasTag = colon > reference.lastIndexOf('/');
  if (!hasTag) {
    if (needTag) throw keywardError('NOTARY_REFERENCE', `${quoted(reference)} names no tag`, { hint: 'give GUN:TAG, e.g. registry.example/team/app:v1.2' });
    return { gun: checkGun(reference) };
  }
  return { gun: checkGun(reference.slice(0, colon)), tag: checkTag(reference.slice(colon + 1)) };
}
