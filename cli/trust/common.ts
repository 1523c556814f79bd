/**
 * What the `trust repo` and `trust sign` commands share: opening a repository with the command's
 * keystore, turning key arguments into signers or public keys, and telling people what changed.
 * Heavy modules load inside these functions, when a command runs.
 */
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import type { ChangeReport, ChangeRequest, KeySource, Repository } from '../../src/trust/repository/repository.js';
import type { RepositoryEdits } from '../../src/trust/repository/edits.js';
import type { PublishReport } from '../../src/trust/repository/publishing.js';
import type { RoleStatus } from '../../src/trust/repository/requirements.js';
import type { Approval, RoleReview } from '../../src/trust/repository/review.js';
import type { TufSigner } from '../../src/trust/signer.js';
import type { LockOptions } from '../../src/trust/repository/lock.js';
import { collect, wholeNumber } from '../options.js';

/**
 * Runs `work` with the command's context and repository; always releases the devices. The
 * repository takes its lock itself for each write (waiting for another writer as lockOptions says).
 */
export async function withRepository<T>(command: Command, dir: string, work: (ctx: CliContext, repo: Repository) => Promise<T>): Promise<T> {
  const { CliContext } = await import('../context.js');
  const { Repository } = await import('../../src/trust/repository/repository.js');
  const ctx = await CliContext.of(command);
  try {
    return await work(ctx, Repository.open(dir, { keystore: ctx.keystore(), lock: await lockOptions(ctx, command) }));
  } finally {
    await ctx.keystore().close();
  }
}

/** How long a writer waits for another: KEYWARD_LOCK_WAIT seconds (default 30; 0 refuses at once), saying so. */
export async function lockOptions(ctx: CliContext, command: Command): Promise<LockOptions> {
  const { DEFAULT_LOCK_WAIT_MS, describeHolder } = await import('../../src/trust/repository/lock.js');
  const value = ctx.env.KEYWARD_LOCK_WAIT;
  const waitMs = value === undefined || value === '' ? DEFAULT_LOCK_WAIT_MS : wholeNumber(value, 'KEYWARD_LOCK_WAIT') * 1000;
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return {
    waitMs,
    command: names.join(' '),
    onWait: (holder) => ctx.say(`waiting up to ${waitMs / 1000} s for the repository: ${describeHolder(holder)}…`),
  };
}

/** A key argument: a Keystore URI (opened, it can sign) or a PEM public key file (a key held elsewhere). */
export async function keySource(ctx: CliContext, spec: string, flag: string): Promise<KeySource> {
  const { signerOf } = await import('../../src/trust/signer.js');
  const { keyUriScheme } = await import('../../src/keystore/uri/index.js');
  if (keyUriScheme(spec)) {
    const signer = await signerOf(await ctx.keystore().open(spec));
    return { key: signer.key, signer };
  }
  const [{ parseInput }, { fromPemOrDer }, { tufKeyFromSpki }, { keywardError }] = await Promise.all([
    import('../io.js'),
    import('../../src/x509/pem.js'),
    import('../../src/trust/keys.js'),
    import('../../src/errors.js'),
  ]);
  return {
    key: await parseInput(spec, flag, (data) => {
      const spki = fromPemOrDer(data, 'PUBLIC KEY'); // another PEM block is named by its label
      try {
        return tufKeyFromSpki(spki);
      } catch (cause) {
        if (data.toString('latin1').includes('-----BEGIN PUBLIC KEY-----')) throw cause;
        throw keywardError('PUBLIC_KEY_MISSING', 'it holds no public key (PEM or DER)', {
          cause,
          hint: 'give a Keystore URI (pkcs11:…, yubikey:…) or a public key file (keyward key public URI > key.pem)',
        });
      }
    }),
  };
}

/** A repeatable key argument (`--key`, `--add`, `--root-key`…), each a Keystore URI or a PEM public key file. */
export async function keySources(ctx: CliContext, specs: string[] = [], flag: string): Promise<KeySource[]> {
  return Promise.all(specs.map((spec) => keySource(ctx, spec, flag)));
}

async function signers(ctx: CliContext, uris: string[] = []): Promise<TufSigner[]> {
  const { signerOf } = await import('../../src/trust/signer.js');
  const out: TufSigner[] = [];
  for (const uri of uris) out.push(await signerOf(await ctx.keystore().open(uri)));
  return out;
}

/**
 * The options of every command that signs a change: the keys it signs with (`--sign-with`, unless
 * the command names them otherwise), `--expect` and `--no-publish`; added after the command's own
 * options, so that --help lists them together, last. signingRequest turns them into a change's.
 */
export function signingOptions(
  command: Command,
  keys = new Option('--sign-with <uri>', 'sign the change right away with this key (repeat for several)').argParser(collect),
): Command {
  return command
    .addOption(keys)
    .addOption(
      new Option('--expect <sha256:hex>', 'sign changes staged by others only if they are the ones reviewed: the digest keyward trust repo status printed'),
    )
    .addOption(new Option('--no-publish', 'stage and sign only; publish later: keyward trust repo publish (or refresh, where the online keys are)'));
}

/** A staged role's changes, for people: "releases v3:\n  + targets[\"releases/app.tgz\"]: {…}". */
export function describeChanges(roles: RoleReview[]): string {
  return roles
    .map((r) =>
      [
        `${r.role} v${r.version}:`,
        ...r.changes.slice(0, 40).map((c) => `  ${c}`),
        ...(r.changes.length > 40 ? [`  … and ${r.changes.length - 40} more`] : []),
      ].join('\n'),
    )
    .join('\n');
}

/**
 * What a signing command does with content staged by others: with --expect, signs it only if its
 * digest is the one reviewed; else shows it and asks; with no one to ask, refuses.
 */
async function approval(ctx: CliContext, expect: string | undefined): Promise<Approval> {
  const { CancelledError, keywardError } = await import('../../src/errors.js');
  const { checkExpected } = await import('../../src/trust/repository/review.js');
  return async (review) => {
    if (expect !== undefined) return checkExpected(review, expect);
    process.stderr.write(`Staged by others, not by this command, and signed with it:\n${describeChanges(review.roles)}\n`);
    const answer = await ctx.interaction.confirm('Sign these changes too?');
    if (answer === undefined) {
      throw keywardError(
        'TUF_UNREVIEWED',
        `the staged ${review.roles.map((r) => r.role).join(', ')} ${review.roles.length === 1 ? 'holds' : 'hold'} changes made by others (above), and no one is here to approve them`,
        {
          hint: 'review them with keyward trust repo status, then sign with --expect <the digest it prints>; or keyward trust repo discard them',
        },
      );
    }
    if (!answer) throw new CancelledError('nothing was signed');
  };
}

/** What signingOptions parse to. */
export interface SigningOptions {
  signWith?: string[];
  publish: boolean;
  expect?: string;
}

/**
 * The part of a Repository.change request that the signing options decide: the signers (the
 * `--sign-with` keys, or `opened`, keys the command found itself), opened here, before the change,
 * so that PINs are asked before the repository is locked; what to do with content staged by others
 * (`--expect`, else ask); whether to publish.
 */
export async function signingRequest(
  ctx: CliContext,
  options: SigningOptions,
  opened?: TufSigner[],
): Promise<Required<Pick<ChangeRequest<unknown>, 'signers' | 'approve' | 'publish'>>> {
  return {
    signers: opened ?? (await signers(ctx, options.signWith)),
    approve: await approval(ctx, options.expect),
    publish: options.publish,
  };
}

/**
 * A `repo` change: `edit` made and described, signed as the signing options say, published when
 * every threshold is met; says what happened. `named`: the keys the change names (a delegation's);
 * the URIs of those given as URIs are recorded.
 */
export async function changeRepository(
  ctx: CliContext,
  repo: Repository,
  options: SigningOptions,
  edit: ((edits: RepositoryEdits) => string) | undefined,
  named: KeySource[] = [],
): Promise<void> {
  const report = await repo.change({
    edit,
    remember: named.flatMap((s) => (s.signer ? [s.signer] : [])),
    ...(await signingRequest(ctx, options)),
  });
  emitChange(ctx, report.result ?? 'signed the staged changes', report);
}

/** A change's outcome for people and scripts: what changed, what was approved and signed, what was published or still waits. */
export function emitChange(ctx: CliContext, description: string, report: ChangeReport<unknown>, extra: Record<string, unknown> = {}): void {
  ctx.emit(
    {
      ...extra,
      change: description,
      approved: report.review ?? null,
      signed: report.signed,
      published: report.published ?? null,
      publishDeferred: report.publishDeferred ?? null,
      status: report.status,
    },
    () =>
      [
        description,
        ...(report.review ? [`signed with it, as approved: the changes staged by others (digest ${report.review.digest})`] : []),
        ...report.signed.map((s) => `signed ${s.role} with ${s.uri}`),
        report.published
          ? describePublish(report.published)
          : report.publishDeferred
            ? `signed; publication waits for the online keys: ${report.publishDeferred} (keyward trust repo refresh where they are)`
            : pending(report.status),
      ].join('\n'),
  );
}

export function describePublish(report: PublishReport): string {
  const roles = report.published.map((p) => `${p.role} v${p.version}`);
  return `published ${[...roles, `snapshot v${report.snapshot}`, `timestamp v${report.timestamp}`].join(', ')}`;
}

function pending(status: RoleStatus[]): string {
  const waiting = status.filter((s) => s.staged && !s.met);
  if (waiting.length === 0) return status.some((s) => s.staged) ? 'staged; every threshold is met: keyward trust repo publish' : 'nothing staged';
  return `staged, not published yet: ${unmet(waiting).join('; ')}`;
}

/** The thresholds still unmet, naming the keys that can meet them: "releases v3 needs 1 more signature, of the keys targets names: yubikey:…, 3f2a4b5c6d7e". */
export function unmet(roles: RoleStatus[]): string[] {
  return roles.flatMap((s) =>
    s.requirements
      .filter((r) => !r.met)
      .map((r) => {
        const more = r.threshold - r.signed.length;
        return `${s.role} v${s.version} needs ${more} more signature${more === 1 ? '' : 's'}, of the keys ${r.by} names: ${r.missing.map((k) => k.uri ?? short(k.keyid)).join(', ')}`;
      }),
  );
}

const short = (keyid: string) => keyid.slice(0, 12);

/** `status` for people: per role, what is signed, what is missing, whether it can be published. */
export function describeStatus(status: RoleStatus[]): string {
  const lines: string[] = [];
  for (const role of status) {
    lines.push(
      `${role.role} v${role.version}  ${role.staged ? (role.met ? 'staged, ready' : 'staged, waiting for signatures') : 'published'}  expires ${role.expires}`,
    );
    for (const r of role.requirements) {
      lines.push(`  ${r.met ? '✓' : '✗'} ${r.signed.length} of ${r.threshold} required from ${r.by}`);
      for (const k of r.signed) lines.push(`      signed   ${short(k.keyid)}${k.uri ? `  ${k.uri}` : ''}`);
      for (const k of r.missing) lines.push(`      missing  ${short(k.keyid)}${k.uri ? `  ${k.uri}` : ''}`);
    }
  }
  return lines.join('\n');
}

/** How the commands that add a target name it: `--file`, or `--digest` with `--length`; `--custom`. */
export interface TargetOptions {
  file?: string;
  digest?: string;
  length?: string;
  custom?: string;
}

/** `--digest sha256:<hex> --length N` or `--file F` → a target entry (and the bytes to store). */
export async function targetFrom(options: TargetOptions): Promise<{ info: import('../../src/trust/targets.js').TargetFile; bytes?: Buffer }> {
  const { keywardError } = await import('../../src/errors.js');
  const { targetFileFromDigest, targetFileOf } = await import('../../src/trust/targets.js');
  let custom: Record<string, unknown> | undefined;
  if (options.custom) {
    try {
      custom = JSON.parse(options.custom);
    } catch {
      custom = undefined;
    }
    if (typeof custom !== 'object' || custom === null || Array.isArray(custom))
      throw keywardError('TUF_CUSTOM', '--custom must be a JSON object', { hint: `e.g. --custom '{"version":"1.2.0"}'` });
  }
  if (options.file && !options.digest) {
    const { readInput } = await import('../io.js');
    const bytes = readInput(options.file, '--file');
    return { info: targetFileOf(bytes, custom), bytes };
  }
  const digest = /^sha256:([0-9a-f]{64})$/.exec(options.digest ?? '');
  const length = Number(options.length);
  if (options.file || !digest || !Number.isSafeInteger(length) || length < 0) {
    throw keywardError('TUF_TARGET_SOURCE', 'give either --file F, or --digest sha256:<64 hex> with --length N', {
      hint: 'an image manifest: --digest sha256:… --length <manifest size in bytes>',
    });
  }
  return { info: targetFileFromDigest(digest[1]!, length, custom) };
}
