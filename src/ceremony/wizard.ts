/** What the wizard (`keyward ceremony wizard`) writes: a ceremony script from its answers, checked by the same parser a run uses. */
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import type { KeyAlgorithm } from '../crypto/algorithms.js';
import { parseScript } from './script.js';

export interface WizardAnswers {
  kind: 'root' | 'intermediate';
  deviceKind: 'pkcs11' | 'yubikey';
  token?: string;
  serial?: string;
  algorithm: KeyAlgorithm;
  rootLabel: string;
  subject?: string;
  years?: number;
  clusterId?: string;
  intermediateLabel?: string;
  days?: number;
  witnesses: string[];
}

/** The script's YAML for the answers; refused (with the line) if the answers make no valid script. */
export function scriptText(answers: WizardAnswers): string {
  const device = {
    uri: answers.deviceKind === 'pkcs11' ? `pkcs11:token=${answers.token ?? 'offline-root'}` : 'yubikey:',
    ...(answers.serial ? { serial: answers.serial } : {}),
  };
  const key = (label: string, algorithm?: KeyAlgorithm) => ({
    device: 'ceremony-device',
    ...(answers.deviceKind === 'pkcs11' ? { label } : { slot: label }),
    ...(algorithm ? { algorithm } : {}),
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
      : {
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
        };
  const text = `# Written by keyward ceremony wizard. Review it with the witnesses before the ceremony.\n${stringify(document)}`;
  parseScript(text, resolve('wizard.yaml'));
  return text;
}
