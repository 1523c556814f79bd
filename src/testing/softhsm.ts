/**
 * Throw-away SoftHSM tokens for tests (Keyward's own and a CI engineer's): a SoftHSM store in a
 * temporary directory for this process, and tokens in it with random PINs, each with a keystore
 * that logs in to it without asking anyone.
 */
import { randomBytes } from 'node:crypto';
import { createSoftHsmStore, defaultSoftHsmModule, useSoftHsmStore, type SoftHsmStore } from '../hsm/pkcs11/softhsm.js';
import type { Interaction } from '../keystore/interaction.js';
import { Keystore } from '../keystore/keystore.js';
import { formatPkcs11Uri, parsePkcs11Uri } from '../keystore/uri/index.js';
import { Secret } from '../secret.js';

export { createSoftHsmStore, useSoftHsmStore, type SoftHsmStore };

/** The installed SoftHSM2 module (Debian: `apt-get install softhsm2`), or undefined. */
export function softHsmModule(): string | undefined {
  return defaultSoftHsmModule();
}

/**
 * Why SoftHSM tokens cannot be made here, or false when they can: a test's `skip` (node:test takes
 * a reason or false, also under exactOptionalPropertyTypes), or `if (why) …`.
 */
export function softHsmUnavailable(): string | false {
  return softHsmModule() ? false : 'SoftHSM2 is not installed (Debian/Ubuntu: apt-get install softhsm2)';
}

let processStore: SoftHsmStore | undefined;

/**
 * This process's throw-away SoftHSM store: made on first use, pointed at with SOFTHSM2_CONF and
 * removed when the process exits. SoftHSM reads SOFTHSM2_CONF once per process, when the module is
 * first loaded: make tokens before anything else in the process opens SoftHSM.
 */
export function processSoftHsmStore(): SoftHsmStore {
  processStore ??= useSoftHsmStore(createSoftHsmStore('keyward-test-'));
  return processStore;
}

/** Collects warnings instead of printing them; never asks (like a script without a terminal). */
export function recordingInteraction(warnings: string[]): Interaction {
  return {
    askSecret: async () => undefined,
    confirm: async () => undefined,
    warn: (message) => warnings.push(message),
    notice: () => ({ clear: () => undefined }),
  };
}

export interface TestTokenOptions {
  /** The token's label (default: `test-` and random hex; labels are unique in a store). */
  label?: string;
  /** Environment for the keystore besides the PIN (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface TestToken {
  label: string;
  /** The token's URI as Keyward prints it. */
  uri: string;
  /** Random, for this token only: tests may hand them to other tools (pkcs11-tool, the CLI's KEYWARD_PIN). */
  userPin: string;
  soPin: string;
  /** A keystore that logs in to this token with its PIN (KEYWARD_PIN in its own environment, not the process's). */
  keystore: Keystore;
  /** Warnings the keystore gave. */
  warnings: string[];
  /** The URI of a key in this token. */
  keyUri(object: string): string;
  /** Logs out and closes the keystore (the store goes when the process exits). */
  close(): Promise<void>;
}

/** A new SoftHSM token in this process's throw-away store (see `processSoftHsmStore`). */
export async function createTestToken(options: TestTokenOptions = {}): Promise<TestToken> {
  const module = softHsmModule();
  if (!module) throw new Error(softHsmUnavailable() || 'SoftHSM2 is not installed');
  processSoftHsmStore();
  const userPin = randomBytes(6).toString('hex');
  const soPin = randomBytes(6).toString('hex');
  const warnings: string[] = [];
  // Pinned to SoftHSM: a KEYWARD_PKCS11_MODULE in the environment must not send test tokens to a real HSM.
  const keystore = new Keystore({
    env: { ...(options.env ?? process.env), KEYWARD_PIN: userPin },
    interaction: recordingInteraction(warnings),
    pkcs11Module: module,
  });
  const label = options.label ?? `test-${randomBytes(4).toString('hex')}`;
  const summary = (await keystore.administration('pkcs11')).initToken('pkcs11:', {
    label,
    soPin: Secret.fromString(soPin),
    userPin: Secret.fromString(userPin),
  });
  return {
    label,
    uri: summary.uri,
    userPin,
    soPin,
    keystore,
    warnings,
    keyUri: (object) => formatPkcs11Uri({ ...parsePkcs11Uri(summary.uri), object }),
    close: () => keystore.close(),
  };
}
