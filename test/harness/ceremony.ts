/**
 * Ceremonies for tests: witnesses who answer from a list (yes unless told), scripts written into a
 * test's directory, and keystore factories for the runner over this process's SoftHSM tokens and
 * in-process virtual YubiKeys.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Witnessing } from '../../src/ceremony/runner.js';
import { Keystore } from '../../src/keystore/keystore.js';
import type { Interaction } from '../../src/keystore/interaction.js';
import { nonInteractive } from '../../src/keystore/interaction.js';
import { parsePkcs11Uri } from '../../src/keystore/uri/index.js';
import { softHsmModule, type TestToken } from '../../src/testing/softhsm.js';
import type { TestYubiKey } from '../../src/testing/virtual-yubikey.js';
import { KEYWARD_BIN } from './run.js';

export interface Room extends Witnessing {
  shown: string[];
  asked: string[];
}

/** Witnesses who answer yes, except to questions `no` matches. */
export function room(no?: RegExp): Room {
  const shown: string[] = [];
  const asked: string[] = [];
  return {
    shown,
    asked,
    show: (text) => void shown.push(text),
    confirm: async (question) => {
      asked.push(question);
      return !(no && no.test(question));
    },
  };
}

/** The interaction under the runner's recording: nobody at a keyboard (PINs come from the environment). */
export const quiet: Interaction = { ...nonInteractive, warn: () => undefined, notice: () => ({ clear: () => undefined }) };

/** A keystore factory for the runner that reaches SoftHSM tokens with `pin` (or each device with its own PIN variable), and `cards` (in-process virtual YubiKeys). */
export function keystoreFactory(pin: string | Record<string, string>, cards: TestYubiKey[] = [], opened: string[] = []) {
  return (interaction: Interaction) => {
    opened.push('keystore');
    return new Keystore({
      env: typeof pin === 'string' ? { KEYWARD_PIN: pin } : pin,
      interaction,
      pkcs11Module: softHsmModule(),
      attachedCards: cards.map((c) => ({ reader: `test card ${c.serial}`, card: c.card })),
      attestationRoots: cards.map((c) => c.card.attestationRoot),
      attestationIntermediates: cards.flatMap((c) => c.card.attestationIntermediates),
    });
  };
}

export const tokenSerial = (token: TestToken) => parsePkcs11Uri(token.uri).serial!;

export function writeScript(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** A root ceremony on a SoftHSM token, as an operator would write it. */
export function rootScript(token: { label: string; serial: string }, options: { outputs?: string; years?: number } = {}): string {
  return `keyward-ceremony: 1
kind: root
title: Test root ceremony
ca-directory: offline-ca
devices:
  root-hsm:
    uri: "pkcs11:token=${token.label}"
    serial: "${token.serial}"
keys:
  root:
    device: root-hsm
    label: root-2026
    algorithm: p384
certificate:
  subject: "CN=Test Root CA, O=Keyward tests"
  years: ${options.years ?? 20}
outputs:
  certificate: ${options.outputs ?? 'root.pem'}
witnesses:
  - Alice Auditor
  - Bob Security
`;
}

/** Runs `keyward ceremony run` answering yes to the witnesses, and SIGKILLs it once `until` shows on standard error. */
export function killedRun(args: string[], env: NodeJS.ProcessEnv, answers: number, until: RegExp): Promise<{ signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KEYWARD_BIN, '--no-input', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (until.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ signal, stderr }));
    // Standard input stays open: the ceremony waits for the next answer when it is killed.
    child.stdin.write('yes\n'.repeat(answers));
  });
}
