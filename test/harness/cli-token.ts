/**
 * A SoftHSM store with one token made by the `keyward` binary, for tests that drive the CLI and
 * outside tools as child processes. PINs reach every process through the environment or a file,
 * never argv.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyward, type RunOptions, type RunResult } from './run.js';
import { createSoftHsmStore, SOFTHSM_MODULE, uniqueLabel, type SoftHsmStore, type SoftHsmStoreOptions } from './softhsm.js';
import type { Teardown } from './temp.js';

export const CLI_PIN = '975310';
export const CLI_SO_PIN = 'so-975310';

export interface CliToken {
  store: SoftHsmStore;
  label: string;
  /** Env for keyward and for tools: SOFTHSM2_CONF, KEYWARD_PIN, GNUTLS_PIN. */
  env: NodeJS.ProcessEnv;
  /** A file holding the user PIN (mode 600), for pin-source=file:… */
  pinFile: string;
  module: string;
  keyward(args: string[], options?: RunOptions): Promise<RunResult>;
}

/**
 * The store (and whatever a test put in its directory) is removed at `t`'s teardown. Its object
 * store is SoftHSM's database store where SoftHSM has one, unless `options` asks for another.
 */
export async function cliToken(t: Teardown, options: SoftHsmStoreOptions = {}): Promise<CliToken> {
  const store = createSoftHsmStore('keyward-cli-', options);
  t.teardown(() => store.remove());
  const label = uniqueLabel('cli');
  const env = { ...store.env, KEYWARD_PIN: CLI_PIN, GNUTLS_PIN: CLI_PIN };
  const pinFile = join(store.dir, 'user.pin');
  writeFileSync(pinFile, CLI_PIN, { mode: 0o600 });
  const init = await keyward(['token', 'init', '--label', label], { env: { ...env, KEYWARD_SO_PIN: CLI_SO_PIN } });
  if (init.code !== 0) throw new Error(`keyward token init failed: ${init.stderr}`);
  return {
    store,
    label,
    env,
    pinFile,
    module: SOFTHSM_MODULE,
    keyward: (args, options = {}) => keyward(args, { env, ...options }),
  };
}
