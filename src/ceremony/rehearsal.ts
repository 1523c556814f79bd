/**
 * `--dry-run`: the same script, end to end, on stand-ins. Each PKCS#11 device becomes a throw-away
 * SoftHSM token labelled after it, each YubiKey a virtual YubiKey with the same serial (in this
 * process), all with one rehearsal PIN; the CA directory is a scratch copy (or, where the real one
 * is not on this machine, a scratch directory with a stand-in root), and outputs and transcript go
 * to a scratch directory. Everything is removed afterwards: a rehearsal leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyAlgorithm } from '../crypto/algorithms.js';
import type { Interaction } from '../keystore/interaction.js';
import { devicePinVariable, tokenSoPinVariable } from '../keystore/device-pins.js';
import { Keystore } from '../keystore/keystore.js';
import type { VirtualYubiKey as VirtualYubiKeyCard } from '../hsm/virtual-yubikey/card.js';
import { KeyUri } from '../keystore/uri/origin.js';
import { formatPkcs11Uri, formatYubiKeyUri, parsePkcs11Uri } from '../keystore/uri/index.js';
import { Secret } from '../secret.js';
import { CaDirectory } from '../ca/store.js';
import { createRootCa } from '../ca/steps/root.js';
import { requestClusterIntermediate } from '../ca/steps/intermediate.js';
import { KEY_COPIES, keyUriOf, type CeremonyScript, type DeviceSpec } from './script.js';

/** The PIN of every stand-in: a virtual YubiKey's factory PIN, which SoftHSM stand-ins share. */
export const REHEARSAL_PIN = '123456';
/** The SO PIN of every SoftHSM stand-in. */
const REHEARSAL_SO_PIN = `${REHEARSAL_PIN}-so`;

export interface Rehearsal {
  /** The script as the rehearsal runs it: stand-in devices, scratch CA directory and inputs. */
  script: CeremonyScript;
  keystore: (interaction: Interaction) => Keystore;
  out: string;
  /** What each stand-in stands in for, for the transcript. */
  standIns: Array<{ device: string; standsFor: string; uri: string; serial?: string }>;
  close(): Promise<void>;
}

/** Sets up stand-ins for a script; `close()` removes them and everything the rehearsal wrote. */
export async function prepareRehearsal(script: CeremonyScript): Promise<Rehearsal> {
  const { processSoftHsmStore, softHsmModule, softHsmUnavailable } = await import('../testing/softhsm.js');
  const { VirtualYubiKey } = await import('../hsm/virtual-yubikey/card.js');
  const module = softHsmModule();
  const scratch = mkdtempSync(join(tmpdir(), 'keyward-rehearsal-'));
  const keystores: Keystore[] = [];
  try {
    const devices: Record<string, DeviceSpec> = {};
    const standIns: Rehearsal['standIns'] = [];
    const cards: Array<{ reader: string; card: VirtualYubiKeyCard }> = [];
    // A TUF rehearsal keeps its stand-in repository's online keys in a token of its own.
    const needsPkcs11 = script.kind === 'tuf-root-sign' || Object.values(script.devices).some((d) => d.scheme === 'pkcs11');
    if (needsPkcs11 && !module) throw new Error(softHsmUnavailable() || 'SoftHSM2 is not installed');
    if (needsPkcs11) processSoftHsmStore();
    // Each stand-in its own PIN variable (as each real device has), all holding the rehearsal PIN; filled in as they are made.
    const env: NodeJS.ProcessEnv = {};
    const setup = new Keystore({ env, pkcs11Module: module });
    keystores.push(setup);
    for (const device of Object.values(script.devices)) {
      if (device.scheme === 'pkcs11') {
        const { uri, serial } = await standInToken(setup, env, parsePkcs11Uri(device.uri).token ?? device.name);
        devices[device.name] = { ...device, uri, ...(serial !== undefined ? { serial } : {}) };
        standIns.push({ device: device.name, standsFor: `${device.uri}${device.serial ? ` (serial ${device.serial})` : ''}`, uri, serial });
      } else {
        const card = await VirtualYubiKey.create(
          { ...(device.serial !== undefined ? { serial: Number(device.serial) } : {}) },
          { touch: { kind: 'auto', delayMs: 0 } },
        );
        cards.push({ reader: `Keyward rehearsal YubiKey ${card.serial}`, card });
        env[devicePinVariable('yubikey', String(card.serial))!] = REHEARSAL_PIN;
        const uri = formatYubiKeyUri({ serial: card.serial });
        devices[device.name] = { ...device, uri, serial: String(card.serial) };
        standIns.push({
          device: device.name,
          standsFor: `${device.uri}${device.serial ? ` (serial ${device.serial})` : ''}`,
          uri,
          serial: String(card.serial),
        });
      }
    }
    const keystore = (interaction: Interaction) => {
      const made = new Keystore({
        env,
        interaction,
        pkcs11Module: module,
        attachedCards: cards,
        attestationRoots: cards.map((c) => c.card.attestationRoot),
        attestationIntermediates: cards.flatMap((c) => c.card.attestationIntermediates),
      });
      keystores.push(made);
      return made;
    };
    const rehearsed: CeremonyScript = {
      ...script,
      devices,
      caDirectory: join(scratch, 'ca'),
      ...(script.repository !== undefined ? { repository: join(scratch, 'repository') } : {}),
      inputs: { ...script.inputs },
    };
    if (existsSync(script.caDirectory)) cpSync(script.caDirectory, rehearsed.caDirectory, { recursive: true });
    const standInKeys = keystore(setup.context.interaction);
    // Keys the ceremony uses but does not make are made on the stand-ins, with what they need around them.
    const existing = (role: string) => {
      const key = rehearsed.keys[role];
      return key && !key.generate ? { uri: KeyUri.of(keyUriOf(rehearsed, key)), algorithm: key.algorithm ?? ('p384' as KeyAlgorithm) } : undefined;
    };
    // A copy ceremony's key is a root made for backup, on its stand-in source token.
    const copies = KEY_COPIES[script.kind];
    const root = existing(copies?.from ?? 'root');
    if (root && script.kind !== 'tuf-root-sign') {
      // The real root certificate is for the real key: the rehearsal has a stand-in root of its own.
      rmSync(rehearsed.caDirectory, { recursive: true, force: true });
      await createRootCa(new CaDirectory(rehearsed.caDirectory), standInKeys, {
        key: root.uri,
        generate: root.algorithm,
        subject: 'CN=Rehearsal root',
        ...(copies ? { backup: 'wrap' as const } : {}),
      });
    }
    if (script.kind === 'intermediate-sign' && !(script.inputs.csr && existsSync(script.inputs.csr))) {
      const online = new CaDirectory(join(scratch, 'online'));
      const csrDevice = Object.values(rehearsed.devices)[0]!;
      const record = await requestClusterIntermediate(online, standInKeys, {
        key: KeyUri.of(
          keyUriOf(rehearsed, { role: 'intermediate', device: csrDevice.name, label: 'rehearsal-intermediate', slot: '9d', generate: true }, csrDevice),
        ),
        generate: 'p256',
        clusterId: script.cluster!.id,
      });
      rehearsed.inputs.csr = join(scratch, 'rehearsal.csr');
      writeFileSync(rehearsed.inputs.csr, record.outputs.csr!);
    }
    if (script.kind === 'tuf-root-sign') await standInRepository(standInKeys, env, existing('root')!, join(scratch, 'repository'));
    const out = join(scratch, 'out');
    return {
      script: rehearsed,
      keystore,
      out,
      standIns,
      close: async () => {
        await Promise.all(keystores.map((k) => k.close()));
        rmSync(scratch, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(keystores.map((k) => k.close()));
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A stand-in TUF repository for a root-signing rehearsal: its root key the stand-in of the script's,
 * its other keys in a token of their own, and a staged root change (a second timestamp key) for the
 * ceremony to sign.
 */
async function standInRepository(keystore: Keystore, env: NodeJS.ProcessEnv, root: { uri: KeyUri; algorithm: KeyAlgorithm }, dir: string): Promise<void> {
  const { Repository } = await import('../trust/repository/repository.js');
  const { signerOf } = await import('../trust/signer.js');
  const token = await standInToken(keystore, env, 'rehearsal-tuf');
  const online = async (object: string) => signerOf(await keystore.generate(KeyUri.of(formatPkcs11Uri({ token: token.label, object })), { algorithm: 'p256' }));
  const rootSigner = await signerOf(await keystore.generate(root.uri, { algorithm: root.algorithm }));
  const [targets, snapshot, timestamp, next] = [await online('targets'), await online('snapshot'), await online('timestamp'), await online('timestamp-2')];
  const role = (signer: typeof rootSigner) => ({ keys: [{ key: signer.key, signer }], threshold: 1 });
  await Repository.init(dir, { root: role(rootSigner), targets: role(targets), snapshot: role(snapshot), timestamp: role(timestamp) }, { keystore });
  await Repository.open(dir, { keystore }).change({ edit: (edits) => edits.rotate('timestamp', { add: [next.key] }), publish: false });
}

/** A stand-in SoftHSM token labelled after `name`, with the rehearsal PIN (and SO PIN) in its own variables of `env`. */
async function standInToken(keystore: Keystore, env: NodeJS.ProcessEnv, name: string): Promise<{ label: string; uri: string; serial: string | undefined }> {
  // Labels are unique in a store, and this process may rehearse more than once: the stand-in's is its own.
  const label = `${name.slice(0, 20)}-${randomBytes(4).toString('hex')}`;
  const summary = (await keystore.administration('pkcs11')).initToken('pkcs11:', {
    label,
    soPin: Secret.fromString(REHEARSAL_SO_PIN),
    userPin: Secret.fromString(REHEARSAL_PIN),
  });
  const serial = parsePkcs11Uri(summary.uri).serial;
  const variable = serial !== undefined ? devicePinVariable('token', serial) : undefined;
  if (variable) env[variable] = REHEARSAL_PIN;
  // A backup rehearsal needs the stand-in source's Security Officer.
  const soVariable = tokenSoPinVariable(serial);
  if (soVariable) env[soVariable] = REHEARSAL_SO_PIN;
  return { label, uri: formatPkcs11Uri({ token: label }), serial };
}
