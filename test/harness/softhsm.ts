/**
 * SoftHSM for tests: every test file gets a fresh store for its own process (`useProcessSoftHsm`,
 * called before the module loads); child processes (CLI runs, pkcs11-tool, p11tool, openssl) get
 * stores of their own from `createSoftHsmStore`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { SOFTHSM_MODULE_CANDIDATES } from '../../src/hsm/pkcs11/module.js';
import { createSoftHsmStore, type SoftHsmStore, type SoftHsmStoreOptions } from '../../src/hsm/pkcs11/softhsm.js';
import { processSoftHsmStore } from '../../src/testing/softhsm.js';

export { createSoftHsmStore, type SoftHsmStore, type SoftHsmStoreOptions };

export const SOFTHSM_MODULE = SOFTHSM_MODULE_CANDIDATES.find((p) => existsSync(p)) ?? '/usr/lib/softhsm/libsofthsm2.so';

/** The process's store, the same one `keyward/testing`'s tokens use (SoftHSM sees one per process). */
export function useProcessSoftHsm(): SoftHsmStore {
  return processSoftHsmStore();
}

/** A label no other test uses. */
export function uniqueLabel(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
