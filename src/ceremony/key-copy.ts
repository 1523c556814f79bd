/**
 * The backup and restore ceremonies' step: a CA key (the root's or the intermediate's, by its
 * certificate) copied to a second token under wrap (the keystore's copyKey), then proved: the copy
 * signs a challenge, which must verify with the public key of the CA's certificate (the CA's
 * proveCaKey). A restore points the CA at the copy with the CA's use-key step, which proves it so.
 * Every step of the copy is a transcript entry (`key-copy.*`): both tokens' serials, the transport
 * key's fingerprint, the copy's attributes and public key fingerprint.
 */
import { KeywardError } from '../errors.js';
import type { Keystore } from '../keystore/keystore.js';
import { KeyUri } from '../keystore/uri/origin.js';
import * as ca from '../ca/index.js';
import type { StepRecord, StepRun } from '../ca/index.js';
import { StepRecorder } from '../ca/steps/record.js';
import { errorAt, KEY_COPIES, type CeremonyScript } from './script.js';

export interface KeyCopyContext {
  script: CeremonyScript;
  directory: ca.CaDirectory;
  keys: Record<string, KeyUri>;
  /** Appends an entry to the transcript. */
  record(type: string, data: Record<string, unknown>): void;
  /** Asks the room before an irreversible step; its question and answer are on record. */
  confirm(question: string, data: Record<string, unknown>): Promise<boolean>;
  /** A resumed ceremony: a copy already on the destination (the same public key) was made before the stop. */
  resumed: boolean;
  /** The operator's file for the source token's SO PIN (`--so-pin-source`). */
  soPinSource?: string;
}

/** Where a copy's refusal belongs in the script. */
function fieldOf(code: string, from: string, to: string): string {
  if (code === 'KEY_NOT_WRAPPABLE' || code === 'KEY_NOT_OF_CA') return `keys.${from}`;
  if (code === 'LABEL_IN_USE') return `keys.${to}.label`;
  if (code === 'KEY_COPY_SAME_TOKEN' || code === 'ID_IN_USE') return `keys.${to}.device`;
  return '';
}

/** The copy, its proof and (a restore) the CA pointed at it; each of the CA's records, for the transcript's step.done. */
export async function copyCaKey(ctx: KeyCopyContext, keystore: Keystore, run: StepRun): Promise<StepRecord[]> {
  const { from, to } = KEY_COPIES[ctx.script.kind]!;
  try {
    return await copyAndProve(ctx, keystore, run, from, to);
  } catch (error) {
    const field = error instanceof KeywardError ? fieldOf(error.code, from, to) : '';
    throw field ? errorAt(ctx.script, field, error as KeywardError) : error;
  }
}

async function copyAndProve(ctx: KeyCopyContext, keystore: Keystore, run: StepRun, from: string, to: string): Promise<StepRecord[]> {
  const recorder = new StepRecorder(`ceremony.${ctx.script.kind}`, run);
  // The key is one of the CA's, by its certificate: read from the public key, before any login or change.
  const source = await keystore.open(ctx.keys[from]!);
  const role = ca.caKeyRole(ctx.directory, await source.publicKey());
  if (!role) throw ca.notTheCasKey(ctx.directory, `the ${from} key (${source.info.uri})`);
  await recorder.key(from, source, false);

  const copied = await (
    await keystore.administration('pkcs11')
  ).copyKey({
    source: ctx.keys[from]!,
    destination: ctx.keys[to]!,
    resume: ctx.resumed,
    ...(ctx.soPinSource !== undefined ? { soPinSource: ctx.soPinSource } : {}),
    step: (step, data) => ctx.record(`key-copy.${step}`, data),
    confirm: (question, data) => ctx.confirm(question, data),
  });
  const copy = await keystore.open(ctx.keys[to]!);
  await recorder.key(to, copy, false, source.info.uri);

  // The proof: the copy signs a fresh challenge, checked with the key the CA's certificate certifies
  // (on record, verified or not). A restore's proof is the CA's use-key step's, which then names the
  // restored key in ca.json: a step of its own, on record.
  let proved: ca.CaKeyProof | undefined;
  const proof = {
    purpose: `keyward ${ctx.script.kind} proof ${ctx.script.sha256}`,
    record: (done: ca.CaKeyProof) => {
      proved = done;
      ctx.record('key-copy.proof', { signer: `the ${to} key (${copy.info.uri})`, ...done });
    },
  };
  const used =
    ctx.script.kind === 'restore'
      ? await ca.useCaKey(ctx.directory, keystore, { key: KeyUri.of(copy.info.uri), proof }, run)
      : void (await ca.proveCaKey(ctx.directory, role, copy, proof));
  recorder.record.outputs = {
    copied: copied.copied ? 'copied in this ceremony' : 'copied before the machine stopped (found, not copied again)',
    certificate: `${role} "${proved!.verifiedWith.subject}", sha256 ${proved!.verifiedWith.sha256}`,
    proof: 'the copy signed a fresh challenge; it verifies with the certificate',
  };
  return used ? [recorder.record, used] : [recorder.record];
}

/** What a copy ceremony checks before any device: a CA with a root certificate to prove the copy against. */
export function checkCopyCeremony(ctx: Pick<KeyCopyContext, 'directory'>): void {
  ctx.directory.requireCa();
  ctx.directory.root();
}
