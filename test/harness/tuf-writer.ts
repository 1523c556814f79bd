/**
 * Keys for Keyward's TUF writer in real devices: a SoftHSM token in this test process's store and a
 * virtual YubiKey attached in-process, behind one Keystore; and tuf-js, the npm TUF client, reading a
 * repository over HTTP and downloading every target, as a peer no one here wrote.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Updater as TufJsUpdater } from 'tuf-js';
import type { KeyAlgorithm } from '../../src/crypto/algorithms.js';
import { VirtualYubiKey } from '../../src/hsm/virtual-yubikey/card.js';
import { devicePinVariable } from '../../src/keystore/device-pins.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { signerOf, type TufSigner } from '../../src/trust/signer.js';
import { Secret } from '../../src/secret.js';
import { recordingInteraction, SO_PIN } from './keystore.js';
import { uniqueLabel, useProcessSoftHsm } from './softhsm.js';
import { tempDir, type Teardown } from './temp.js';

/** One PIN for the token and the card (the card's factory PIN), each given in the device's own variable. */
const PIN = '123456';

export interface Devices {
  keystore: Keystore;
  card: VirtualYubiKey;
  token: string;
  /** A new key in the SoftHSM token. */
  softhsm(algorithm: KeyAlgorithm): Promise<TufSigner>;
  /** A new key in a slot of the virtual YubiKey (touch policy always: the card touches itself). */
  yubikey(slot: string, algorithm: KeyAlgorithm): Promise<TufSigner>;
  close(): Promise<void>;
}

export async function devices(): Promise<Devices> {
  useProcessSoftHsm();
  const card = await VirtualYubiKey.create({ firmware: '5.7.1' }, { touch: { kind: 'auto', delayMs: 5 } });
  const token = uniqueLabel('tuf');
  const setUp = new Keystore({ env: {}, interaction: recordingInteraction([]) });
  const { serial } = (await setUp.administration('pkcs11')).initToken('pkcs11:', {
    label: token,
    soPin: Secret.fromString(SO_PIN),
    userPin: Secret.fromString(PIN),
  });
  await setUp.close();
  // KEYWARD_PIN would go to one device only: a keystore that uses both names each one's PIN.
  const keystore = new Keystore({
    env: { [devicePinVariable('token', serial)!]: PIN, [devicePinVariable('yubikey', String(card.serial))!]: PIN },
    interaction: recordingInteraction([]),
    attachedCards: [{ reader: `virtual ${card.serial}`, card }],
  });
  let n = 0;
  return {
    keystore,
    card,
    token,
    softhsm: async (algorithm) => signerOf(await keystore.generate(`pkcs11:token=${token};object=tuf-${algorithm}-${n++}`, { algorithm })),
    yubikey: async (slot, algorithm) => signerOf(await keystore.generate(`yubikey:serial=${card.serial};slot=${slot}`, { algorithm, touchPolicy: 'always' })),
    close: () => keystore.close(),
  };
}

/** tuf-js from a fresh client (the given trusted root): refresh, then download every target named (its files go at `t`'s teardown). */
export async function tufJsDownloadAll(t: Teardown, url: string, root: Buffer, paths: string[]): Promise<Record<string, string>> {
  const metadataDir = tempDir(t, 'keyward-tufjs-client-');
  const targetDir = tempDir(t, 'keyward-tufjs-targets-');
  writeFileSync(join(metadataDir, 'root.json'), root);
  const updater = new TufJsUpdater({ metadataDir, metadataBaseUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets`, targetDir });
  await updater.refresh();
  const files: Record<string, string> = {};
  for (const path of paths) {
    const info = await updater.getTargetInfo(path);
    if (!info) throw new Error(`tuf-js finds no target ${path}`);
    files[path] = await updater.downloadTarget(info, join(targetDir, encodeURIComponent(path)));
  }
  return files;
}
