/** A fresh SoftHSM token in this test process's store, and a keystore that can log in to it. */
import type { Interaction } from '../../src/keystore/interaction.js';
import { Keystore } from '../../src/keystore/keystore.js';
import type { Pkcs11Administration } from '../../src/keystore/pkcs11/administration.js';
import { Secret } from '../../src/secret.js';
import { recordingInteraction } from '../../src/testing/softhsm.js';
import { uniqueLabel, useProcessSoftHsm } from './softhsm.js';

export const USER_PIN = '246810';
export const SO_PIN = '13579-so';

export interface TestToken {
  label: string;
  /** The token's URI as Keyward prints it. */
  uri: string;
  keystore: Keystore;
  administration: Pkcs11Administration;
  /** Warnings the keystore gave. */
  warnings: string[];
}

export { recordingInteraction };

export async function freshToken(options: { env?: NodeJS.ProcessEnv; interaction?: Interaction; allowFinalTry?: boolean } = {}): Promise<TestToken> {
  useProcessSoftHsm();
  const warnings: string[] = [];
  const keystore = new Keystore({
    env: options.env ?? { KEYWARD_PIN: USER_PIN },
    interaction: options.interaction ?? recordingInteraction(warnings),
    allowFinalTry: options.allowFinalTry,
  });
  const administration = await keystore.administration('pkcs11');
  const label = uniqueLabel('t');
  const summary = administration.initToken('pkcs11:', { label, soPin: Secret.fromString(SO_PIN), userPin: Secret.fromString(USER_PIN) });
  return { label, uri: summary.uri, keystore, administration, warnings };
}
