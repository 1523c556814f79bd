/**
 * How role names and target paths become file names and URL parts: quoted as python-tuf quotes them
 * (readers accept any name), and, for the names Keyward's writer gives, only characters that no web
 * server decodes into something else.
 */
import { keywardError } from '../errors.js';

/** Python's `quote(name, safe="")`: role names and target paths as file names and URL parts. */
export function quote(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `N.role.json`, the consistent-snapshot name of a role's metadata. */
export function metadataFile(role: string, version: number): string {
  return `${version}.${quote(role)}.json`;
}

/**
 * A role name the writer accepts: one that `quote` leaves as it is. Anything it escapes (a "/", a
 * space) is served under the escaped name while web servers decode the request first
 * ("releases%2Fapp.json" is looked up as releases/app.json): clients would never find the role.
 */
export function checkServableRoleName(name: string): void {
  if (/^[A-Za-z0-9_.~-]+$/.test(name) && name !== '.' && name !== '..') return;
  throw keywardError('TUF_ROLE_NAME', `role name "${name}" cannot be served: use letters, digits, "-", "_", "." and "~" only`, {
    hint: 'a "/" or a space in a role name becomes %2F or %20 in its file name, which static web servers decode before looking the file up; name it e.g. "releases-stable"',
  });
}
