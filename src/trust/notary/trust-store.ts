/**
 * What Keyward keeps of each GUN on this machine, as notary keeps ~/.notary/tuf/<gun>: the root it
 * trusts (the first one it saw, then each rotation it verified against the one before), and the URIs
 * of the keys it used for the GUN, so that later commands find them (never a key: keys stay in their
 * devices).
 *
 *   <dir>/<gun, URI-encoded>/root.json   the trusted root, as the server served it
 *   <dir>/<gun, URI-encoded>/keys.json   {"<key id>": "<key URI>", …}
 *   <dir>/<gun, URI-encoded>/seen.json   the newest timestamp and snapshot versions verified (no rollback below them)
 *
 * No link inside the directory is followed (ConfinedDirectory); files are written atomically.
 */
import { ConfinedDirectory } from '../../confined-directory.js';
import { keywardError } from '../../errors.js';
import { KeyUri } from '../../keystore/uri/origin.js';

export class TrustStore {
  readonly #files: ConfinedDirectory;

  constructor(readonly dir: string) {
    this.#files = new ConfinedDirectory(dir, 'a Notary trust directory');
  }

  #file(gun: string, name: string): string {
    return `${encodeURIComponent(gun)}/${name}`;
  }

  /** The root this machine trusts for `gun`, or undefined before the first use. */
  trustedRoot(gun: string): Buffer | undefined {
    return this.#files.readBytes(this.#file(gun, 'root.json'));
  }

  trust(gun: string, root: Uint8Array): void {
    this.#files.write(this.#file(gun, 'root.json'), root);
  }

  /** The newest timestamp and snapshot versions verified for `gun`: a server may not serve older ones. */
  seen(gun: string): { timestamp: number; snapshot: number } {
    const text = this.#files.read(this.#file(gun, 'seen.json'));
    let value: { timestamp?: unknown; snapshot?: unknown } = {};
    try {
      value = text === undefined ? {} : (JSON.parse(text) as typeof value);
    } catch (cause) {
      throw keywardError('NOTARY_TRUST_DIR', `${this.#files.path(this.#file(gun, 'seen.json'))}: not valid JSON`, {
        cause,
        hint: 'Keyward writes this file; remove it to start again',
      });
    }
    const version = (v: unknown) => (Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : 0);
    return { timestamp: version(value?.timestamp), snapshot: version(value?.snapshot) };
  }

  rememberSeen(gun: string, seen: { timestamp: number; snapshot: number }): void {
    const before = this.seen(gun);
    if (before.timestamp === seen.timestamp && before.snapshot === seen.snapshot) return;
    this.#files.write(this.#file(gun, 'seen.json'), `${JSON.stringify(seen)}\n`);
  }

  /** The key URIs recorded for `gun`: read back as URIs from a file, which may not choose code or secrets (keystore/uri/origin.ts). */
  keyUris(gun: string): Record<string, KeyUri> {
    const file = this.#file(gun, 'keys.json');
    const text = this.#files.read(file);
    if (text === undefined) return {};
    const invalid = (why: string, cause?: unknown) =>
      keywardError('NOTARY_TRUST_DIR', `${this.#files.path(file)}: ${why}`, {
        cause,
        hint: 'Keyward writes this file; restore it, or remove it and name keys with --key',
      });
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw invalid('not valid JSON', cause);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('not a JSON object of key ids and URIs');
    const uris: Record<string, KeyUri> = {};
    for (const [keyid, uri] of Object.entries(value)) {
      if (typeof uri !== 'string') throw invalid(`"${keyid}" is not a key URI`);
      try {
        uris[keyid] = KeyUri.fromFile(uri, this.#files.path(file), keyid);
      } catch (cause) {
        throw invalid(`"${keyid}": ${(cause as Error).message}`, cause);
      }
    }
    return uris;
  }

  /** Records where keys of `gun` live. */
  rememberKeys(gun: string, keys: ReadonlyArray<{ keyid: string; uri: string }>): void {
    const current = this.keyUris(gun);
    if (keys.every((k) => current[k.keyid]?.text === k.uri)) return;
    const next: Record<string, string> = Object.fromEntries(Object.entries(current).map(([id, uri]) => [id, uri.text]));
    for (const key of keys) next[key.keyid] = key.uri;
    this.#files.write(this.#file(gun, 'keys.json'), `${JSON.stringify(next, null, 2)}\n`, 0o600);
  }
}
