/**
 * Each kind of ceremony as thin adapters over the CA's step functions: what it checks before any
 * device is opened (the step's own `check`, with the script's values), and what it runs. The
 * ceremony adds nothing of its own to what is signed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { keywardError, KeywardError } from '../errors.js';
import type { Keystore } from '../keystore/keystore.js';
import type { KeyUri } from '../keystore/uri/origin.js';
// The CA as its library users see it (`keyward/ca`): the ceremony uses nothing else of it.
import * as ca from '../ca/index.js';
import type { IntermediateCreateOptions, IntermediateRequestOptions, RootCreateOptions, RotationOptions, StepRecord, StepRun } from '../ca/index.js';
import { parseKeyUri } from '../keystore/uri/schemes.js';
import { Repository } from '../trust/repository/repository.js';
import { signerOf } from '../trust/signer.js';
import { sha256Hex, StepRecorder } from '../ca/steps/record.js';
import { checkCopyCeremony, copyCaKey } from './key-copy.js';
import { KEY_COPIES, type CeremonyKind, type CeremonyScript } from './script.js';

export interface KindContext {
  script: CeremonyScript;
  directory: ca.CaDirectory;
  keys: Record<string, KeyUri>;
  now: Date;
  /**
   * Shows what a key is about to sign that is not a certificate (staged TUF metadata) and asks the
   * witnesses; returns to sign, throws to refuse. Recorded by the runner.
   */
  approve?: (what: string, lines: string[], data: Record<string, unknown>) => Promise<void>;
  /** Appends an entry to the transcript (what a step did besides its record: a key copy's steps). */
  record?: (type: string, data: Record<string, unknown>) => void;
  /** Asks the room before an irreversible step; false stops it. Recorded by the runner. */
  confirm?: (question: string, data: Record<string, unknown>) => Promise<boolean>;
  /** The run continues a ceremony a dead machine stopped (--resume). */
  resumed?: boolean;
  /** The operator's file for a token's SO PIN (--so-pin-source), where a step needs the Security Officer. */
  soPinSource?: string;
}

export interface KindResult {
  records: StepRecord[];
  /** Output name → content, written to --out as the script names them. */
  outputs: Record<string, string>;
}

export interface KindAdapter {
  /** What the step is, in words for the people in the room. */
  describe(script: CeremonyScript): string;
  /** Checks everything the step can without a device; errors name the script field they are about. */
  check(ctx: KindContext): Promise<void>;
  run(ctx: KindContext, keystore: Keystore, run: StepRun): Promise<KindResult>;
  /** The key role, if any, whose new key signs the transcript at the end (a new root). */
  signer?: string;
}

/** A failure of a check, placed at the script field it is about. */
export class FieldError extends Error {
  readonly field: string;
  readonly error: KeywardError;
  constructor(field: string, error: KeywardError) {
    super(error.message);
    this.field = field;
    this.error = error;
  }
}

/** A file the script names as input (`inputs.<name>`), read; CEREMONY_INPUT_MISSING if it is not there. */
function input(script: CeremonyScript, name: 'csr' | 'certificate'): Buffer {
  const path = script.inputs[name]!;
  if (!existsSync(path)) throw keywardError('CEREMONY_INPUT_MISSING', `${path} is not there`, { hint: 'bring the file named in the script' });
  return readFileSync(path);
}

const intermediateOptions = (ctx: KindContext, csr?: Buffer): IntermediateCreateOptions => ({
  rootKey: ctx.keys.root!,
  ...(csr ? { csr } : { key: ctx.keys.intermediate!, generate: ctx.script.keys.intermediate!.algorithm!, backup: ctx.script.keys.intermediate!.backup }),
  clusterId: ctx.script.cluster!.id,
  days: ctx.script.certificate.days,
  nodeDays: ctx.script.cluster!.nodeDays,
  ...(ctx.script.cluster!.crlUrl || ctx.script.cluster!.caIssuersUrl
    ? { urls: { crl: ctx.script.cluster!.crlUrl, caIssuers: ctx.script.cluster!.caIssuersUrl } }
    : {}),
  rootCrlDays: ctx.script.crl.days,
});

/** The options of the root step, the same for its check and its run. */
const rootOptions = (ctx: KindContext): RootCreateOptions => ({
  key: ctx.keys.root!,
  generate: ctx.script.keys.root!.algorithm,
  backup: ctx.script.keys.root!.backup,
  subject: ctx.script.certificate.subject,
  years: ctx.script.certificate.years,
});

/** The options of the online intermediate's request, the same for its check and its run. */
const requestOptions = (ctx: KindContext): IntermediateRequestOptions => ({
  key: ctx.keys.intermediate!,
  generate: ctx.script.keys.intermediate!.algorithm,
  backup: ctx.script.keys.intermediate!.backup,
  clusterId: ctx.script.cluster!.id,
  nodeDays: ctx.script.cluster!.nodeDays,
});

/** The options of a root rotation's first half, the same for its check and its run. */
const rotationOptions = (ctx: KindContext): RotationOptions => ({
  newKey: ctx.keys['new-root']!,
  generate: ctx.script.keys['new-root']!.algorithm,
  backup: ctx.script.keys['new-root']!.backup,
  subject: ctx.script.certificate.subject,
  years: ctx.script.certificate.years,
});

/** Where a CA step's error belongs in the script, by its code. */
function fieldOf(error: KeywardError, fallback: string): string {
  const code = error.code;
  if (code.startsWith('VALIDITY')) return 'certificate';
  if (code === 'SUBJECT_INVALID') return 'certificate.subject';
  if (code === 'CLUSTER_ID_INVALID' || code === 'CA_SERVES_OTHER_CLUSTER' || code === 'CSR_CLUSTER_MISMATCH') return 'cluster';
  if (code === 'NODE_DAYS_INVALID') return 'cluster.node-days';
  if (code.startsWith('CSR')) return 'inputs.csr';
  if (code.startsWith('URI') || code.startsWith('ALGORITHM')) return 'keys';
  return fallback;
}

async function placed<T>(fallback: string, check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof KeywardError) throw new FieldError(fieldOf(error, fallback), error);
    throw error;
  }
}

/** The repository a TUF ceremony works on, opened (its configuration read and checked, no device). */
function repositoryOf(ctx: KindContext): Repository {
  return Repository.open(ctx.script.repository!, { now: () => ctx.now });
}

export const KINDS: Record<CeremonyKind, KindAdapter> = {
  root: {
    describe: (s) => `make the root key ${s.keys.root!.label ?? s.keys.root!.slot} (${s.keys.root!.algorithm}) and its self-signed certificate`,
    check: (ctx) => placed('ca-directory', () => ca.checkRootCa(ctx.directory, rootOptions(ctx), ctx.now)),
    run: async (ctx, keystore, run) => {
      const record = await ca.createRootCa(ctx.directory, keystore, rootOptions(ctx), run);
      return { records: [record], outputs: { certificate: record.certificates[0]!.pem } };
    },
    signer: 'root',
  },
  intermediate: {
    describe: (s) => `make the intermediate key for cluster ${s.cluster!.id} and have the root sign its certificate and the root CRL`,
    check: async (ctx) => void (await placed('ca-directory', () => ca.checkClusterIntermediate(ctx.directory, intermediateOptions(ctx), ctx.now))),
    run: async (ctx, keystore, run) => {
      const record = await ca.createClusterIntermediate(ctx.directory, keystore, intermediateOptions(ctx), run);
      return { records: [record], outputs: { certificate: record.outputs.certificate! } };
    },
  },
  'intermediate-request': {
    describe: (s) => `make the intermediate key for cluster ${s.cluster!.id} online and its CSR for the offline root`,
    check: (ctx) => placed('ca-directory', () => ca.checkIntermediateRequest(ctx.directory, requestOptions(ctx))),
    run: async (ctx, keystore, run) => {
      const record = await ca.requestClusterIntermediate(ctx.directory, keystore, requestOptions(ctx), run);
      return { records: [record], outputs: { csr: record.outputs.csr! } };
    },
  },
  'intermediate-sign': {
    describe: (s) => `have the root sign the intermediate CSR of cluster ${s.cluster!.id}, and the root CRL`,
    check: async (ctx) => {
      const csr = await placed('inputs.csr', () => input(ctx.script, 'csr'));
      await placed('ca-directory', () => ca.checkClusterIntermediate(ctx.directory, intermediateOptions(ctx, csr), ctx.now));
    },
    run: async (ctx, keystore, run) => {
      const record = await ca.createClusterIntermediate(ctx.directory, keystore, intermediateOptions(ctx, input(ctx.script, 'csr')), run);
      return { records: [record], outputs: { certificate: record.outputs.certificate! } };
    },
  },
  'intermediate-install': {
    describe: () => "install the intermediate certificate the root signed, with the root's certificates and CRLs",
    check: async (ctx) => {
      const certificate = await placed('inputs.certificate', () => input(ctx.script, 'certificate'));
      const rootDirectory = ctx.script.inputs.rootDirectory!;
      await placed('inputs.root-directory', () => {
        if (!existsSync(rootDirectory)) {
          throw keywardError('CEREMONY_INPUT_MISSING', `${rootDirectory} is not there`, { hint: "bring the root's CA directory from the ceremony" });
        }
      });
      await placed('inputs', () => ca.checkIntermediateInstall(ctx.directory, { certificate, rootDirectory: new ca.CaDirectory(rootDirectory) }));
    },
    run: async (ctx, keystore, run) => {
      const certificate = input(ctx.script, 'certificate');
      const record = await ca.installClusterIntermediate(
        ctx.directory,
        keystore,
        { certificate, rootDirectory: new ca.CaDirectory(ctx.script.inputs.rootDirectory!) },
        run,
      );
      return { records: [record], outputs: {} };
    },
  },
  'root-rotation': {
    describe: (s) => `make the new root key ${s.keys['new-root']!.label ?? s.keys['new-root']!.slot}, its certificate, and have the old root cross-sign it`,
    check: async (ctx) => {
      await placed('ca-directory', () => ca.checkRootRotation(ctx.directory, rotationOptions(ctx), ctx.now));
    },
    run: async (ctx, keystore, run) => {
      const record = await ca.beginRootRotation(ctx.directory, keystore, rotationOptions(ctx), run);
      const pem = (profile: string) => record.certificates.find((c) => c.profile === profile)!.pem;
      return { records: [record], outputs: { root: pem('root'), 'cross-signed': pem('cross-signed-root') } };
    },
    signer: 'new-root',
  },
  'tuf-root-sign': {
    describe: (s) => `have the root key ${s.keys.root!.label ?? s.keys.root!.slot} sign the staged root metadata of the TUF repository`,
    check: async (ctx) =>
      placed('repository', () => {
        const repo = repositoryOf(ctx);
        if (!repo.stagedRoles().includes('root')) {
          throw keywardError('TUF_NOTHING_STAGED', `${repo.dir} has no staged root metadata to sign`, {
            hint: 'stage the change first (keyward trust repo …), then hold the ceremony',
          });
        }
        parseKeyUri(ctx.keys.root!.text);
      }),
    run: async (ctx, keystore, run) => {
      const recorder = new StepRecorder('trust.root.sign', run);
      const handle = await keystore.open(ctx.keys.root!);
      await recorder.key('root', handle, false);
      const repo = repositoryOf(ctx);
      const report = await repo.change({
        signers: [await signerOf(handle)],
        roles: ['root'],
        approve: (review) =>
          ctx.approve!(
            `the staged TUF metadata (${review.digest})`,
            review.roles.flatMap((r) => [`${r.role} v${r.version}:`, ...r.changes.map((c) => `  ${c}`)]),
            { digest: review.digest, roles: review.roles },
          ),
        publish: false,
      });
      const staged = repo.workspace.stagedPath('root');
      const root = readFileSync(staged, 'utf8');
      recorder.record.files.push({ path: staged, sha256: sha256Hex(root) });
      recorder.record.outputs = {
        signed: report.signed.map((s) => `${s.role} ${s.keyid}`).join('\n'),
        status: report.status.map((s) => `${s.role} v${s.version}: ${s.met ? 'threshold met' : 'threshold not met'}${s.staged ? ', staged' : ''}`).join('\n'),
      };
      return { records: [recorder.record], outputs: { root } };
    },
  },
  backup: copyKind('copy'),
  restore: copyKind('restore'),
  crl: {
    describe: () => 'have the root sign its CRL',
    check: (ctx) => placed('crl', () => ca.checkRootCrl(ctx.directory, { rootKey: ctx.keys.root!, days: ctx.script.crl.days })),
    run: async (ctx, keystore, run) => {
      const record = await ca.signRootCrl(ctx.directory, keystore, { rootKey: ctx.keys.root!, days: ctx.script.crl.days }, run);
      return { records: [record], outputs: { crl: record.crls[0]!.pem } };
    },
  },
};

/** The backup and restore ceremonies: a CA key copied to a second token under wrap and proved (key-copy.ts). */
function copyKind(verb: 'copy' | 'restore'): KindAdapter {
  return {
    describe: (s) => {
      const { from, to } = KEY_COPIES[s.kind]!;
      const [source, target] = [s.keys[from]!, s.keys[to]!];
      return (
        `${verb} the key ${source.label} from ${source.device} to ${target.device} (as ${target.label}) under wrap, the Security Officer of ${source.device} ` +
        `trusting the transport key, and prove the copy against the CA's certificate${verb === 'restore' ? '; then the CA names the restored key' : ''}`
      );
    },
    check: (ctx) => placed('ca-directory', () => checkCopyCeremony(ctx)),
    run: async (ctx, keystore, run) => ({
      records: await copyCaKey(
        {
          script: ctx.script,
          directory: ctx.directory,
          keys: ctx.keys,
          record: ctx.record!,
          confirm: ctx.confirm!,
          resumed: ctx.resumed === true,
          ...(ctx.soPinSource !== undefined ? { soPinSource: ctx.soPinSource } : {}),
        },
        keystore,
        run,
      ),
      outputs: {},
    }),
  };
}
