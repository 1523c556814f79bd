/**
 * Throw-away SoftHSM2 stores, for the demo and for tests: a token directory and a config naming it.
 * SoftHSM reads its config (SOFTHSM2_CONF) once, at C_Initialize: a process sees one store.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SoftHsmStore {
  dir: string;
  config: string;
  tokenDir: string;
  /** Environment for child processes that should see this store. */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export function createSoftHsmStore(prefix = 'keyward-softhsm-'): SoftHsmStore {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  const config = join(dir, 'softhsm2.conf');
  writeFileSync(config, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  return {
    dir,
    config,
    tokenDir,
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
