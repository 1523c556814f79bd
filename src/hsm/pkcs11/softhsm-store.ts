/**
 * The SoftHSM store a process sees, read from disk as SoftHSM 2.6 reads it: which softhsm2.conf,
 * which token directory, and how each token is kept. On the file object store (SoftHSM's default,
 * and the only one Debian's softhsm2 is built with) a token's PINs, flags and the key that encrypts
 * its objects live in `token.object`, which SoftHSM truncates and writes again at every login: a
 * crash between the two loses the token. The database object store (SQLite, journalled) does not.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** How SoftHSM keeps a token: `objectstore.backend` in softhsm2.conf. */
export type SoftHsmObjectStore = 'file' | 'db';

/** Where SoftHSM builds look for softhsm2.conf when neither SOFTHSM2_CONF nor the user's exists. */
const DEFAULT_CONFIGS = ['/etc/softhsm/softhsm2.conf', '/etc/softhsm2.conf', '/usr/local/etc/softhsm/softhsm2.conf', '/opt/homebrew/etc/softhsm/softhsm2.conf'];

/** What marks each object store in a token's directory (SoftHSM's OSToken.cpp and DBToken.cpp). */
const STORE_FILES: ReadonlyArray<[string, SoftHsmObjectStore]> = [
  ['token.object', 'file'],
  ['sqlite3.db', 'db'],
];

export interface SoftHsmTokenDirectory {
  /** The token's serial number: SoftHSM makes it from the directory's UUID. */
  serial: string;
  path: string;
  objectStore: SoftHsmObjectStore;
}

export interface SoftHsmStoreInfo {
  /** The softhsm2.conf SoftHSM reads in this environment, or undefined when there is none. */
  config: string | undefined;
  /** `directories.tokendir`, when the config names one. */
  tokenDir: string | undefined;
  /** `objectstore.backend`: where new tokens go (SoftHSM's default is `file`). */
  backend: string;
  tokens: SoftHsmTokenDirectory[];
}

/**
 * The softhsm2.conf SoftHSM 2.6 reads (SimpleConfigLoader::getConfigPath): SOFTHSM2_CONF, else
 * ~/.config/softhsm2/softhsm2.conf if it is readable, else the build's default.
 */
export function softHsmConfigPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SOFTHSM2_CONF !== undefined) return env.SOFTHSM2_CONF;
  if (env.HOME) {
    const user = join(env.HOME, '.config', 'softhsm2', 'softhsm2.conf');
    try {
      accessSync(user, constants.R_OK);
      return user;
    } catch {
      // Not there or not readable: SoftHSM goes on to its default, and so do we.
    }
  }
  return DEFAULT_CONFIGS.find((path) => existsSync(path));
}

/** `name = value` lines as SoftHSM reads them: `#` starts a comment, the value ends at another `=`. */
export function parseSoftHsmConfig(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [name, value] = line
      .split(/[#\r]/, 1)[0]!
      .split('=')
      .filter((part) => part.length > 0)
      .map((part) => part.trim());
    if (name && value) settings.set(name, value);
  }
  return settings;
}

/** The serial SoftHSM gives the token in a directory named by a UUID (ObjectStore::newToken). */
function serialOf(uuid: string): string {
  return uuid.slice(19, 23) + uuid.slice(24);
}

/** The SoftHSM store this environment sees and its tokens; reads files only, loads no module. */
export function softHsmStore(env: NodeJS.ProcessEnv = process.env): SoftHsmStoreInfo {
  const config = softHsmConfigPath(env);
  let settings = new Map<string, string>();
  try {
    if (config) settings = parseSoftHsmConfig(readFileSync(config, 'utf8'));
  } catch {
    // An unreadable config is SoftHSM's to report when it loads; here it has no settings.
  }
  const tokenDir = settings.get('directories.tokendir');
  const tokens: SoftHsmTokenDirectory[] = [];
  try {
    for (const entry of tokenDir ? readdirSync(tokenDir, { withFileTypes: true }) : []) {
      if (!entry.isDirectory()) continue;
      const path = join(tokenDir!, entry.name);
      const store = STORE_FILES.find(([file]) => existsSync(join(path, file)));
      if (store) tokens.push({ serial: serialOf(entry.name), path, objectStore: store[1] });
    }
  } catch {
    // A token directory this user cannot read: SoftHSM cannot either, and says so when it loads.
  }
  return { config, tokenDir, backend: settings.get('objectstore.backend') ?? 'file', tokens };
}

const databaseBuilds = new Map<string, boolean>();

/**
 * Whether a SoftHSM module was built with its database object store: only then does it hold
 * DBToken.cpp's file name for the database, "sqlite3.db" (Debian's softhsm2 2.6 does not).
 */
export function softHsmHasDatabaseStore(module: string): boolean {
  let found = databaseBuilds.get(module);
  if (found === undefined) {
    try {
      found = readFileSync(module).includes('sqlite3.db');
    } catch {
      found = false;
    }
    databaseBuilds.set(module, found);
  }
  return found;
}

/**
 * Why tokens on SoftHSM's file object store are at risk, and what to do, for `keyward doctor` and
 * `keyward token init`.
 */
export function fileStoreRisk(tokens: string[], tokenDir: string, databaseStore: boolean): { message: string; hint: string } {
  const which = tokens.length === 1 ? `token ${tokens[0]} is` : `tokens ${tokens.join(', ')} are`;
  return {
    message:
      `SoftHSM ${which} on its file object store (${tokenDir}): SoftHSM empties and rewrites each token's token.object ` +
      'at every login, and a crash in that moment (kill -9, out of memory, power loss) leaves it empty: the token and every key in it are lost',
    hint:
      (databaseStore
        ? 'for keys that matter, make a store with "objectstore.backend = db" in its softhsm2.conf (this SoftHSM has it), new keys there, and move to them (keys made non-extractable cannot be copied); until then, '
        : "this SoftHSM is built without its database object store (as Debian's softhsm2 is); ") +
      `back up ${tokenDir} while no program uses it: a copy of a token's token.object, made any time after it was initialised, restores an emptied one (with the PINs it had then)`,
  };
}
