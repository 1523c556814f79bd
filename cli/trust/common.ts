/**
 * What the `trust repo` and `trust sign` commands share: opening a repository with the command's
 * keystore, turning key arguments into signers or public keys, and telling people what changed.
 * Heavy modules load inside these functions, when a command runs.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { KeySource, PublishReport, Repository, RoleStatus } from '../../src/trust/repository/repository.js';
import type { TufSigner } from '../../src/trust/repository/signer.js';
import type { LockOptions } from '../../src/trust/repository/lock.js';

/**
 * Runs `work` with the command's context and repository; always releases the devices. A command that
 * stages, signs or publishes holds the repository's lock throughout (one writer at a time), waiting
 * for another writer as long as lockOptions says; `{ lock: false }` is for commands that only read.
 */
export async function withRepository<T>(
  command: Command,
  dir: string,
  work: (ctx: CliContext, repo: Repository) => Promise<T>,
  options: { lock?: boolean } = {},
): Promise<T> {
  const { CliContext } = await import('../context.js');
  const { Repository } = await import('../../src/trust/repository/repository.js');
  const ctx = await CliContext.of(command);
  try {
    const repo = Repository.open(dir, ctx.keystore());
    if (options.lock === false) return await work(ctx, repo);
    return await repo.exclusive(async () => work(ctx, repo), await lockOptions(ctx, command));
  } finally {
    await ctx.keystore().close();
  }
}

/** How long a writer waits for another: KEYWARD_LOCK_WAIT seconds (default 30; 0 refuses at once), saying so. */
export async function lockOptions(ctx: CliContext, command: Command): Promise<LockOptions> {
  const { wholeNumber } = await import('../options.js');
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
  const { signerOf } = await import('../../src/trust/repository/signer.js');
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

export async function signers(ctx: CliContext, uris: string[] = []): Promise<TufSigner[]> {
  const { signerOf } = await import('../../src/trust/repository/signer.js');
  const out: TufSigner[] = [];
  for (const uri of uris) out.push(await signerOf(await ctx.keystore().open(uri)));
  return out;
}

/**
 * Stages `change` and signs it with `signWith` (or only `roles`), all or nothing. The signers are
 * opened before (the caller's job); a wrong PIN, a card gone, no touch, or a key that signs none of
 * the staged roles puts every staged file back as it was, signatures collected earlier included.
 */
/**
 * Makes a change and signs it with keys opened beforehand; on any failure every staged file is put
 * back. Where keys live (the signers', and `remember`: keys the change names) is recorded only once
 * the change is signed, so a failed change leaves repo.json as it was too.
 */
export async function signChange<T>(
  repo: Repository,
  signWith: TufSigner[],
  change: () => T,
  roles?: string[],
  remember: TufSigner[] = [],
): Promise<{ result: T; signed: Awaited<ReturnType<Repository['sign']>> }> {
  const before = repo.layout.stagedState();
  try {
    const result = change();
    const signed = await repo.sign(signWith, roles);
    const idle = signWith.find((s) => !signed.some((d) => d.keyid === s.keyid));
    if (idle) {
      const { keywardError } = await import('../../src/errors.js');
      const which = roles ? `role "${roles.join('", "')}"` : `the staged roles (${repo.layout.stagedRoles().join(', ')})`;
      throw keywardError('TUF_KEY_NOT_IN_ROLE', `${idle.uri} is not a key of ${which}; nothing was changed`, {
        hint: "keyward trust repo status shows the roles' keys",
      });
    }
    for (const signer of [...signWith, ...remember]) repo.rememberKey(signer);
    return { result, signed };
  } catch (error) {
    repo.layout.restoreStaged(before);
    throw error;
  }
}

/**
 * A `repo` change: staged and signed with keys opened beforehand (signChange), published when every
 * threshold is met; says what happened. `change` makes the change and describes it.
 */
export async function signAndMaybePublish(
  ctx: CliContext,
  repo: Repository,
  signWith: TufSigner[],
  publish: boolean,
  change: () => string,
  remember: TufSigner[] = [],
): Promise<void> {
  const { result: description, signed } = await signChange(repo, signWith, change, undefined, remember);
  let report: PublishReport | undefined;
  if (publish && repo.ready()) report = await repo.publish();
  const status = repo.status();
  ctx.emit({ change: description, signed, published: report ?? null, status }, () =>
    [description, ...signed.map((s) => `signed ${s.role} with ${s.uri}`), report ? describePublish(report) : pending(status)].join('\n'),
  );
}

export function describePublish(report: PublishReport): string {
  const roles = report.published.map((p) => `${p.role} v${p.version}`);
  return `published ${[...roles, `snapshot v${report.snapshot}`, `timestamp v${report.timestamp}`].join(', ')}`;
}

function pending(status: RoleStatus[]): string {
  const waiting = status.filter((s) => s.staged && !s.met);
  if (waiting.length === 0) return status.some((s) => s.staged) ? 'staged; every threshold is met: keyward trust repo publish' : 'nothing staged';
  return `staged, not published yet: ${waiting
    .map((s) =>
      s.requirements
        .filter((r) => !r.met)
        .map((r) => `${s.role} v${s.version} needs ${r.threshold - r.signed.length} more signature(s) from ${r.by}`)
        .join('; '),
    )
    .join('; ')}`;
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

/** `--digest sha256:<hex> --length N` or `--file F` → a target entry (and the bytes to store). */
export async function targetFrom(options: {
  file?: string;
  digest?: string;
  length?: string;
  custom?: string;
}): Promise<{ info: import('../../src/trust/targets.js').TargetFile; bytes?: Buffer }> {
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
