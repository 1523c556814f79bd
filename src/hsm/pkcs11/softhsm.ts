/**
 * Throw-away SoftHSM2 stores, for the demo and for tests: a token directory and a config naming it.
 * SoftHSM reads its config (SOFTHSM2_CONF) once, at C_Initialize: a process sees one store.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keywardError } from '../../errors.js';
import { softHsmHasDatabaseStore, type SoftHsmObjectStore } from './softhsm-store.js';

/** Where distributions put SoftHSM2's module; the first that exists is the default module. */
export const SOFTHSM_MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib/pkcs11/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

/** The installed SoftHSM2, Keyward's module when nothing names one. */
export function defaultSoftHsmModule(): string | undefined {
  return SOFTHSM_MODULE_CANDIDATES.find((p) => existsSync(p));
}

export interface SoftHsmStore {
  dir: string;
  config: string;
  tokenDir: string;
  objectStore: SoftHsmObjectStore;
  /** Environment for child processes that should see this store. */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export interface SoftHsmStoreOptions {
  /**
   * How SoftHSM keeps the tokens: by default its database object store where the installed SoftHSM
   * has one (a crash cannot empty it; Debian's softhsm2 2.6 is built without), else its file store.
   */
  objectStore?: SoftHsmObjectStore;
  /** The SoftHSM module that will open the store (default: the installed one). */
  module?: string;
}

export function createSoftHsmStore(prefix = 'keyward-softhsm-', options: SoftHsmStoreOptions = {}): SoftHsmStore {
  const module = options.module ?? defaultSoftHsmModule();
  const database = module !== undefined && softHsmHasDatabaseStore(module);
  const objectStore = options.objectStore ?? (database ? 'db' : 'file');
  if (objectStore === 'db' && !database) {
    throw keywardError('SOFTHSM_NO_DATABASE_STORE', `SoftHSM ${module ?? '(not installed)'} is built without its database object store`, {
      hint: 'ask for the file store, or use a SoftHSM built with --with-objectstore-backend-db (Debian builds softhsm2 without it)',
    });
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  const config = join(dir, 'softhsm2.conf');
  writeFileSync(config, `directories.tokendir = ${tokenDir}\nobjectstore.backend = ${objectStore}\nlog.level = ERROR\nslots.removable = false\n`);
  return {
    dir,
    config,
    tokenDir,
    objectStore,
    env: { ...process.env, SOFTHSM2_CONF: config },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Points this process's SoftHSM at `store` and removes the store when the process exits. Call it
 * before anything opens the SoftHSM module.
 */
export function useSoftHsmStore(store: SoftHsmStore): SoftHsmStore {
  process.env.SOFTHSM2_CONF = store.config;
  process.once('exit', () => store.remove());
  return store;
}
