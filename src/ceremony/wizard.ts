/** What the wizard (`keyward ceremony wizard`) writes: a ceremony script from its answers, checked by the same parser a run uses. */
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import type { KeyAlgorithm } from '../crypto/algorithms.js';
import { parseScript } from './script.js';

export interface WizardAnswers {
  kind: 'root' | 'intermediate' | 'backup' | 'restore';
  deviceKind: 'pkcs11' | 'yubikey';
  token?: string;
  serial?: string;
  /** The algorithm of the key a root or intermediate ceremony makes. */
  algorithm?: KeyAlgorithm;
  /** The root key's label or slot; in a backup or restore, the label of the key copied (the copy takes it too). */
  rootLabel: string;
  /** A root or intermediate key made on a token so that a backup ceremony can copy it (`backup: wrap`). */
  backup?: boolean;
  subject?: string;
  years?: number;
  clusterId?: string;
  intermediateLabel?: string;
  days?: number;
  /** A backup or restore: the second token, where the copy goes. */
  target?: { token: string; serial?: string };
  witnesses: string[];
}

/** The script's YAML for the answers; refused (with the line) if the answers make no valid script. */
export function scriptText(answers: WizardAnswers): string {
  const device = {
    uri: answers.deviceKind === 'pkcs11' ? `pkcs11:token=${answers.token ?? 'offline-root'}` : 'yubikey:',
    ...(answers.serial ? { serial: answers.serial } : {}),
  };
  const key = (label: string, algorithm?: KeyAlgorithm, deviceName = 'ceremony-device') => ({
    device: deviceName,
    ...(answers.deviceKind === 'pkcs11' ? { label } : { slot: label }),
    ...(algorithm ? { algorithm } : {}),
    ...(algorithm && answers.backup ? { backup: 'wrap' } : {}),
  });
  const copy = (from: [string, string], to: [string, string]) => ({
    devices: {
      [from[1]]: device,
      [to[1]]: { uri: `pkcs11:token=${answers.target!.token}`, ...(answers.target!.serial ? { serial: answers.target!.serial } : {}) },
    },
    keys: { [from[0]]: key(answers.rootLabel, undefined, from[1]), [to[0]]: key(answers.rootLabel, undefined, to[1]) },
  });
  const document =
    answers.kind === 'root'
      ? {
          'keyward-ceremony': 1,
          kind: 'root',
          title: `Root key ceremony: ${answers.subject}`,
          'ca-directory': 'offline-ca',
          devices: { 'ceremony-device': device },
          keys: { root: key(answers.rootLabel, answers.algorithm) },
          certificate: { subject: answers.subject, years: answers.years },
          outputs: { certificate: 'root.pem' },
          witnesses: answers.witnesses,
        }
      : answers.kind === 'intermediate'
        ? {
            'keyward-ceremony': 1,
            kind: 'intermediate',
            title: `Cluster intermediate ceremony: ${answers.clusterId}`,
            'ca-directory': 'offline-ca',
            devices: { 'ceremony-device': device },
            keys: { root: key(answers.rootLabel), intermediate: key(answers.intermediateLabel!, answers.algorithm) },
            cluster: { id: answers.clusterId },
            certificate: { days: answers.days },
            outputs: { certificate: 'intermediate.pem' },
            witnesses: answers.witnesses,
          }
        : {
            'keyward-ceremony': 1,
            kind: answers.kind,
            title: `${answers.kind === 'backup' ? 'Backup' : 'Restore'} of the key ${answers.rootLabel}`,
            'ca-directory': 'offline-ca',
            ...(answers.kind === 'backup'
              ? copy(['source', 'root-hsm'], ['backup', 'backup-hsm'])
              : copy(['backup', 'backup-hsm'], ['restored', 'new-root-hsm'])),
            witnesses: answers.witnesses,
          };
  const text = `# Written by keyward ceremony wizard. Review it with the witnesses before the ceremony.\n${stringify(document)}`;
  parseScript(text, resolve('wizard.yaml'));
  return text;
}
