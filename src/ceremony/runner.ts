/**
 * The ceremony runner: a checked script, run in front of witnesses, into a transcript.
 *
 *   1. check: the script (schema), every input and output path, the CA directory, through each
 *      step's own `check`: all before any device is opened;
 *   2. the transcript opens (`<out>/transcript.jsonl`, never over an existing one) with the
 *      script, its hash, the ceremony's fixed time and the ceremony key;
 *   3. the witnesses say they are present and have reviewed the script;
 *   4. each device is found by URI and bound by serial: another device in its place is refused;
 *   5. the step runs: every certificate is drafted with a throw-away key, linted and shown, and
 *      signed by the device only once approved (the device's to-be-signed bytes must equal the
 *      draft's); what the step did (keys, attestation, fingerprints, files and their hashes) is
 *      recorded; outputs are written, never over a file;
 *   6. the witnesses acknowledge what they saw; the ceremony ends, and the transcript is signed by
 *      the ceremony key and by the new root, where one was made.
 *
 * A failure at any point (a wrong PIN, a refused draft, a swapped device) is recorded, the
 * ceremony ends as stopped, and the transcript is signed all the same. A ceremony the machine's
 * death stopped has no end: `resume` continues it in the same transcript (resume.ts).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeNewFile } from '../atomic-file.js';
import { join } from 'node:path';
import { keywardError, KeywardError } from '../errors.js';
import type { KeyHandle } from '../keystore/backend.js';
import type { Interaction } from '../keystore/interaction.js';
import type { Keystore } from '../keystore/keystore.js';
import { MemoryKeyHandle } from '../keystore/memory-key.js';
import { KeyUri } from '../keystore/uri/origin.js';
import { formatPkcs11Uri, formatYubiKeyUri, parsePkcs11Uri, parseYubiKeyUri } from '../keystore/uri/index.js';
import { printable } from '../quoted.js';
import { toPem } from '../x509/pem.js';
import { tbsBytes } from '../x509/certificate.js';
import type * as x509 from '../x509/peculiar.js';
import { sha256Hex, type StepRecord } from '../ca/steps/record.js';
import { CaDirectory } from '../ca/store.js';
import { FieldError, KINDS } from './kinds.js';
import { lintCertificate } from './lint.js';
import { errorAt, problemAt, scriptKeyUris, type CeremonyScript, type DeviceSpec } from './script.js';
import { readPriorRun, type PriorRun } from './resume.js';
import { TranscriptWriter } from './transcript.js';

/** The people in the room, as the runner reaches them. */
export interface Witnessing {
  /** Shows something to everyone (a draft certificate, fingerprints). */
  show(text: string): void;
  /** Asks a yes/no question; the question and answer go in the transcript. */
  confirm(question: string): Promise<boolean>;
  /** Long work under way (a key being made, a device signing), until `stop`; never while a question is asked. */
  busy?(text: string): { stop(): void };
}

export interface RunOptions {
  /** Where the transcript and outputs go. */
  out: string;
  /** The keystore, made with the interaction the runner records (PIN prompts, warnings). */
  keystore: (interaction: Interaction) => Keystore;
  /** How the keystore asks for PINs, beneath the runner's recording. */
  interaction: Interaction;
  witnessing: Witnessing;
  /** The ceremony's time; now when absent. */
  now?: Date;
  /** Continue the ceremony a dead machine stopped, from its transcript in `out` (resume.ts). */
  resume?: boolean;
  /** Facts for the start entry (a rehearsal's stand-ins). */
  rehearsal?: { standIns: unknown[] };
  /** The operator's file for a token's SO PIN (`--so-pin-source`), for a ceremony that needs its Security Officer (a backup). */
  soPinSource?: string;
}

export interface CeremonyResult {
  transcript: string;
  finalHash: string;
  outcome: 'done';
  records: StepRecord[];
  outputs: Array<{ name: string; path: string; sha256: string }>;
}

/**
 * Checks a script against everything that can be checked without a device: the CA directory
 * through the step's own check, inputs, and outputs that must not exist yet in `out`.
 */
export async function checkCeremony(script: CeremonyScript, out: string | undefined, now: Date): Promise<void> {
  checkOutputs(script, out);
  await checkInputs(script, now);
}

/** The step's own check with the script's values: the CA directory, inputs, validity; errors at the script line they are about. */
export async function checkInputs(script: CeremonyScript, now: Date): Promise<void> {
  try {
    await KINDS[script.kind].check({ script, directory: new CaDirectory(script.caDirectory), keys: scriptKeyUris(script), now });
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    throw errorAt(script, error.field, error.error);
  }
}

/** Refuses outputs (and a transcript) that exist already in `out`, naming the script line of each. */
export function checkOutputs(script: CeremonyScript, out: string | undefined): void {
  if (out === undefined) return;
  const problems = Object.entries(script.outputs)
    .filter(([, file]) => existsSync(join(out, file)))
    .map(([name, file]) => problemAt(script, `outputs.${name}`, `${join(out, file)} already exists: a ceremony never writes over a file`));
  if (existsSync(join(out, 'transcript.jsonl')))
    problems.push(problemAt(script, '', `${join(out, 'transcript.jsonl')} already exists: give the ceremony a new --out directory`));
  if (problems.length) {
    throw keywardError('OUTPUT_EXISTS', problems.map((p) => `${script.file}:${p.line}:${p.col}: ${p.message}`).join('\n'), {
      hint: 'move the old files away or choose another --out; nothing was opened or written',
    });
  }
}

/** A device's URI bound to its serial. */
function boundUri(device: DeviceSpec, serial = device.serial): string {
  if (device.scheme === 'pkcs11') return formatPkcs11Uri({ ...parsePkcs11Uri(device.uri), ...(serial !== undefined ? { serial } : {}) });
  return formatYubiKeyUri({ ...parseYubiKeyUri(device.uri), ...(serial !== undefined ? { serial: Number(serial) } : {}) });
}

/** Finds a device by URI and serial; another device where the URI points is refused, naming both. */
async function bindDevice(script: CeremonyScript, keystore: Keystore, device: DeviceSpec): Promise<void> {
  try {
    await keystore.capabilities(KeyUri.fromFile(boundUri(device), script.file, `devices.${device.name}`));
  } catch (error) {
    const notFound = error instanceof KeywardError && (error.code === 'TOKEN_NOT_FOUND' || error.code === 'YUBIKEY_NOT_FOUND');
    if (!notFound || device.serial === undefined) throw error;
    const other = await keystore.capabilities(KeyUri.fromFile(device.uri, script.file, `devices.${device.name}`)).then(
      () => true,
      () => false,
    );
    if (!other) throw error;
    throw keywardError(
      'CEREMONY_DEVICE_MISMATCH',
      `device "${device.name}" (${device.uri}) is here, but not the one with serial ${device.serial} the script names`,
      {
        hint: 'plug in the device the script names; a device swapped for another is refused, and nothing was done with it',
        details: { device: device.name, serial: device.serial },
      },
    );
  }
}

/** Describes a draft certificate for the people in the room. */
function describeDraft(draft: x509.X509Certificate, profile: string, findings: ReturnType<typeof lintCertificate>): string {
  return [
    `Draft ${profile} certificate (signed by a throw-away key; the device has signed nothing yet):`,
    `  subject     ${printable(draft.subject)}`,
    `  issuer      ${printable(draft.issuer)}`,
    `  serial      ${draft.serialNumber}`,
    `  valid       ${draft.notBefore.toISOString()} to ${draft.notAfter.toISOString()}`,
    `  to be signed, sha256 ${sha256Hex(tbsBytes(new Uint8Array(draft.rawData)))}`,
    '  lint:',
    ...findings.map((f) => `    ${f.ok ? 'ok  ' : 'FAIL'} ${f.check}: ${printable(f.detail)}`),
  ].join('\n');
}

/** Runs a checked script. Throws what stopped it, after recording it and signing the transcript. */
export async function runCeremony(script: CeremonyScript, options: RunOptions): Promise<CeremonyResult> {
  const now = options.now ?? new Date();
  // Outputs that exist are refused before anything is written (a transcript there included); the
  // rest of the check is the ceremony's first step, so that a refused input is on record.
  const prior = options.resume ? readPriorRun(script, options.out) : undefined;
  if (!prior) {
    checkOutputs(script, options.out);
    mkdirSync(options.out, { recursive: true });
  }
  const transcript = prior ? TranscriptWriter.resume(prior.path, prior.entries, prior.length) : TranscriptWriter.create(join(options.out, 'transcript.jsonl'));
  const { witnessing } = options;
  const ceremonyKey = new MemoryKeyHandle('p256', 'ceremony key');
  const signers: Array<{ signer: string; key: KeyHandle }> = [{ signer: 'ceremony', key: ceremonyKey }];
  const record = (type: string, data: Record<string, unknown>) => transcript.append(type, data);
  let busy: { stop(): void } | undefined;
  const working = (text: string) => {
    busy?.stop();
    busy = witnessing.busy?.(text);
  };
  const idle = () => {
    busy?.stop();
    busy = undefined;
  };
  const ask = async (question: string, data: Record<string, unknown> = {}): Promise<boolean> => {
    idle();
    const answer = await witnessing.confirm(question);
    record('prompt', { ...data, question, answer: answer ? 'yes' : 'no' });
    return answer;
  };
  // The keystore's prompts and warnings go in the transcript: that a PIN was asked for, never what was typed.
  const interaction: Interaction = {
    askSecret: async (prompt) => {
      idle();
      const secret = await options.interaction.askSecret(prompt);
      record('prompt.secret', { prompt, answered: secret !== undefined, value: 'not recorded' });
      return secret;
    },
    confirm: async (question) => {
      idle();
      const answer = await options.interaction.confirm(question);
      record('prompt', { question, answer: answer === undefined ? 'nobody to ask' : answer ? 'yes' : 'no' });
      return answer;
    },
    warn: (message) => {
      record('warning', { message });
      options.interaction.warn(message);
    },
    notice: (message) => {
      record('notice', { message });
      return options.interaction.notice(message);
    },
  };
  if (prior) {
    record('ceremony.resumed', {
      after: prior.entries.length,
      keysMade: Object.fromEntries(prior.made),
      stepDone: prior.done !== undefined,
      outputsWritten: [...prior.written.keys()],
      ...(prior.torn !== undefined ? { tornLine: prior.torn } : {}),
      ceremonyKey: toPem('PUBLIC KEY', await ceremonyKey.publicKey()),
    });
  } else
    record('ceremony.start', {
      title: script.title,
      kind: script.kind,
      time: now.toISOString(),
      script: { file: script.file, sha256: script.sha256, text: script.text },
      ...(script.repository !== undefined ? { repository: script.repository } : { caDirectory: script.caDirectory }),
      witnesses: script.witnesses,
      devices: Object.values(script.devices).map((d) => ({ name: d.name, uri: d.uri, serial: d.serial ?? null })),
      ...(options.rehearsal ? { rehearsal: options.rehearsal } : {}),
      ceremonyKey: toPem('PUBLIC KEY', await ceremonyKey.publicKey()),
    });
  const outputs: CeremonyResult['outputs'] = [];
  const records: StepRecord[] = [];
  let made: Keystore | undefined;
  let stage = 'check';
  try {
    // A step done before the stop changed the CA directory: its check (an empty directory for a root) would refuse it.
    if (!prior?.done) await checkInputs(script, now);
    record('ceremony.checked', { what: 'the script, its inputs and outputs, the CA directory; no device was opened' });
    const keystore = options.keystore(interaction);
    made = keystore;
    stage = 'witnesses';
    for (const witness of script.witnesses) {
      if (!(await ask(`${witness}: are you present, and have you reviewed this script (sha256 ${script.sha256.slice(0, 16)}…)?`, { witness }))) {
        throw keywardError('CANCELLED', `${witness} did not confirm being present and having reviewed the script`);
      }
    }
    stage = 'devices';
    for (const device of Object.values(script.devices)) {
      await bindDevice(script, keystore, device);
      record('device.bound', { device: device.name, uri: boundUri(device), serial: device.serial ?? null });
    }
    stage = script.kind;
    const adapter = KINDS[script.kind];
    if (!(await ask(`Run the ${script.kind} ceremony: ${adapter.describe(script)}?`))) throw keywardError('CANCELLED', 'the ceremony was not begun');
    record('step.begin', { step: script.kind, what: adapter.describe(script) });
    const issuerOf = (profile: string, directory: CaDirectory): x509.X509Certificate | undefined =>
      profile === 'root' || profile === 'cluster-ca' ? undefined : profile === 'cross-signed-root' ? directory.roots()[0] : directory.root();
    const directory = new CaDirectory(script.caDirectory);
    working(`${script.kind}: ${adapter.describe(script)}`);
    const approve = async (what: string, lines: string[], data: Record<string, unknown>): Promise<void> => {
      idle();
      record('changes.review', { what, ...data });
      // Lines from the thing to sign (a TUF role's target names, say) are its text: one line each, nothing hidden.
      witnessing.show([`About to be signed: ${printable(what)}`, ...lines.map((line) => `  ${printable(line)}`)].join('\n'));
      if (!(await ask(`Sign ${what} with the device?`))) throw keywardError('CANCELLED', `${what} was not approved: the device signed nothing`);
      working(`the device signs ${what}`);
    };
    // Keys made before the stop are opened, not made again.
    const resumed = prior ? reopenKeys(script, prior) : script;
    const result = prior?.done
      ? { records: prior.done, outputs: {} }
      : await adapter.run(
          {
            script: resumed,
            directory,
            keys: scriptKeyUris(resumed),
            now,
            approve,
            record: (type, data) => record(type, data),
            confirm: async (question, data) => {
              const answer = await ask(question, data);
              if (answer) working(question.replace(/\?$/, ''));
              return answer;
            },
            resumed: prior !== undefined,
            ...(options.soPinSource !== undefined ? { soPinSource: options.soPinSource } : {}),
          },
          keystore,
          {
            now,
            // Each key, before it signs anything: on the device the script names, and attested where the device can.
            keyReady: async (key, handle) => {
              record('key.ready', { ...key });
              const before = prior?.made.get(key.role);
              if (before !== undefined && before !== key.publicKey) {
                throw keywardError('CEREMONY_RESUME_MISMATCH', `the ${key.role} key at ${key.uri} is not the key made before the ceremony stopped`, {
                  hint: 'another key has that label now; find the key the transcript records (key.ready) before going on',
                  details: { role: key.role, uri: key.uri },
                });
              }
              const spec = script.keys[key.role === 'old-root' ? 'root' : key.role];
              const device = spec ? script.devices[spec.device] : undefined;
              if (device?.serial !== undefined && key.deviceSerial !== undefined && key.deviceSerial !== device.serial) {
                throw keywardError(
                  'CEREMONY_DEVICE_MISMATCH',
                  `the ${key.role} key is on ${key.device}, not on device "${device.name}" (serial ${device.serial})`,
                  {
                    hint: 'the CA directory names another device than the script: check both against the last ceremony',
                  },
                );
              }
              // A key made before the stop is attested again: the machine may have died before its attestation was recorded.
              if ((key.generated || before !== undefined) && handle.info.backend === 'yubikey') {
                const attestation = await handle.attest();
                record('key.attestation', { role: key.role, chain: attestation.chain.map((der) => toPem('CERTIFICATE', der)), claims: attestation.claims });
              }
            },
            review: async (draft, profile) => {
              idle();
              const findings = lintCertificate(draft, profile, {
                issuer: issuerOf(profile, directory),
                subject: profile === 'root' && script.kind === 'root' ? script.certificate.subject : undefined,
                clusterId: script.cluster?.id,
              });
              record('certificate.draft', {
                profile,
                subject: draft.subject,
                issuer: draft.issuer,
                serial: draft.serialNumber,
                notBefore: draft.notBefore.toISOString(),
                notAfter: draft.notAfter.toISOString(),
                tbsSha256: sha256Hex(tbsBytes(new Uint8Array(draft.rawData))),
                lint: findings,
              });
              witnessing.show(describeDraft(draft, profile, findings));
              const failed = findings.filter((f) => !f.ok);
              if (failed.length) {
                throw keywardError(
                  'CEREMONY_LINT_FAILED',
                  `the draft ${profile} certificate fails ${failed.map((f) => f.check).join(', ')}: the device signed nothing`,
                );
              }
              if (!(await ask(`Sign this ${profile} certificate with the device?`, { profile }))) {
                throw keywardError('CANCELLED', `the ${profile} certificate was not approved: the device signed nothing`);
              }
              working(`the device signs the ${profile} certificate`);
            },
          },
        );
    idle();
    records.push(...result.records);
    // What the step produced is on record before any output is written: a run resumed after a stop finds it there.
    const produced = prior?.done ? prior.outputs! : stepOutputs(script, result.outputs);
    if (!prior?.done) {
      for (const step of result.records) record('step.done', { ...step });
      record('step.outputs', { outputs: produced });
    }
    stage = 'outputs';
    for (const [name, output] of Object.entries(produced)) {
      const path = join(options.out, output.file);
      const reused = prior ? reusedOutput(path, name, output.sha256) : false;
      if (!reused) writeNewFile(path, output.content);
      const written = { name, path, sha256: output.sha256 };
      if (!prior?.written.has(name)) record('output.written', written);
      else record('output.reused', written);
      outputs.push(written);
    }
    if (adapter.signer) {
      const made = result.records.flatMap((r) => r.keys).find((k) => k.role === adapter.signer && (k.generated || prior?.made.has(k.role)));
      if (made) {
        signers.push({ signer: adapter.signer, key: await keystore.open(KeyUri.of(made.uri)) });
        record('signer.added', { signer: adapter.signer, publicKey: made.publicKey });
      }
    }
    stage = 'acknowledgement';
    witnessing.show(summary(records, outputs));
    for (const witness of script.witnesses) {
      if (!(await ask(`${witness}: do you acknowledge the fingerprints and files shown?`, { witness }))) {
        throw keywardError('CANCELLED', `${witness} did not acknowledge the ceremony's results`);
      }
      record('witness.acknowledged', { witness });
    }
    stage = 'end';
    record('ceremony.end', { outcome: 'done' });
  } catch (error) {
    if (stage === 'end') {
      // Writing the end itself failed: nothing more goes in.
      transcript.close();
      await made?.close();
      throw error;
    }
    idle();
    const failure =
      error instanceof KeywardError ? { code: error.code, message: error.message } : { code: 'UNEXPECTED', message: String((error as Error).message) };
    record('ceremony.failed', { stage, ...failure });
    record('ceremony.end', { outcome: 'stopped' });
    // A signature that cannot be made now is missing from the transcript, and verify says so.
    for (const { signer, key } of signers) await transcript.sign(signer, key).catch(() => undefined);
    transcript.close();
    await made?.close();
    throw error;
  }
  try {
    for (const { signer, key } of signers) await transcript.sign(signer, key);
    return { transcript: transcript.path, finalHash: transcript.lastHash, outcome: 'done', records, outputs };
  } finally {
    transcript.close();
    await made?.close();
  }
}

/** The step's outputs the script names, with what goes in each file and its SHA-256. */
function stepOutputs(script: CeremonyScript, produced: Record<string, string>): NonNullable<PriorRun['outputs']> {
  return Object.fromEntries(
    Object.entries(produced)
      .filter(([name]) => script.outputs[name] !== undefined)
      .map(([name, content]) => [name, { file: script.outputs[name]!, sha256: sha256Hex(content), content }]),
  );
}

/** The script with each key made before the stop to be opened, not made (resume.ts). */
function reopenKeys(script: CeremonyScript, prior: PriorRun): CeremonyScript {
  const keys = Object.fromEntries(
    Object.entries(script.keys).map(([role, spec]) => [role, prior.made.has(role) && spec ? { ...spec, algorithm: undefined } : spec]),
  ) as CeremonyScript['keys'];
  return { ...script, keys };
}

/** Whether an output written before the stop is there as recorded (then it is reused); another file in its place is refused. */
function reusedOutput(path: string, name: string, sha256: string): boolean {
  if (!existsSync(path)) return false;
  if (sha256Hex(readFileSync(path)) === sha256) return true;
  throw keywardError('CEREMONY_RESUME_MISMATCH', `${path} is not the ${name} the ceremony produced before it stopped (its SHA-256 differs)`, {
    hint: 'move the file away; the resumed ceremony writes the one its transcript records',
    details: { file: path, output: name },
  });
}

/** What the witnesses copy: fingerprints, serials, CRL numbers, files and their hashes. */
export function summary(records: StepRecord[], outputs: CeremonyResult['outputs']): string {
  return [
    ...records.flatMap((r) =>
      r.keys.map((k) => `${k.role} key ${k.copiedFrom ? 'copied to' : k.generated ? 'made on' : 'used on'} ${k.device}\n  public key sha256 ${k.spkiSha256}`),
    ),
    ...records.flatMap((r) => r.certificates.map((c) => `${c.profile} "${printable(c.subject)}" serial ${c.serial}\n  sha256 ${c.sha256}`)),
    ...records.flatMap((r) => r.crls.map((c) => `${c.role} CRL number ${c.number}\n  sha256 ${c.sha256}`)),
    ...outputs.map((o) => `output ${printable(o.path)}\n  sha256 ${o.sha256}`),
  ].join('\n');
}
