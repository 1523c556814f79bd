/** `keyward trust repo …`: a TUF 1.0 repository on disk, every signature made in a Keystore device. */
import { Option, type Command } from 'commander';
import { keywardError } from '../../src/errors.js';
import { examples } from '../help.js';
import { collect, wholeNumber } from '../options.js';
import { confirmDestruction, yesOption } from '../confirm.js';
import {
  changeRepository,
  describeChanges,
  describePublish,
  describeStatus,
  keySource,
  keySources,
  lockOptions,
  signingOptions,
  targetFrom,
  withRepository,
  type SigningOptions,
  type TargetOptions,
} from './common.js';

const ROLES = 'root, targets, snapshot, timestamp';

const int = (value: string | undefined, flag: string, fallback: number) => (value === undefined ? fallback : wholeNumber(value, flag));

/** `keyward trust repo`'s commands (the noun is named in index.ts). */
export function defineRepo(repo: Command): void {
  repo.addHelpText(
    'after',
    examples([
      'keyward trust repo init ./repo --root-key … --targets-key … --snapshot-key … --timestamp-key …',
      'keyward trust repo status ./repo',
      'keyward trust repo refresh ./repo',
      'keyward trust repo discard ./repo --yes',
    ]),
  );

  repo
    .command('init <dir>')
    .description('create a repository: root, targets, snapshot and timestamp keys; publishes at once when every threshold can be met here')
    .addOption(
      new Option('--root-key <key>', 'a root key: a Keystore URI, or a PEM public key file for a key signing elsewhere (repeat)')
        .argParser(collect)
        .makeOptionMandatory(),
    )
    .option('--root-threshold <n>', 'root signatures required', '1')
    .addOption(new Option('--targets-key <key>', 'a targets key (repeat)').argParser(collect).makeOptionMandatory())
    .option('--targets-threshold <n>', 'targets signatures required', '1')
    .addOption(new Option('--snapshot-key <uri>', 'the snapshot key (online: an HSM or SoftHSM URI)').argParser(collect).makeOptionMandatory())
    .addOption(new Option('--timestamp-key <uri>', 'the timestamp key (online)').argParser(collect).makeOptionMandatory())
    .option('--expiry <role=days>', `days a role's metadata stays valid (${ROLES}, delegations); defaults 365, 90, 7, 1, 90`, collect)
    .addHelpText(
      'after',
      examples([
        "keyward trust repo init ./repo --root-key 'pkcs11:token=offline;object=root' \\\n    --targets-key 'yubikey:serial=12345678;slot=9c' \\\n    --snapshot-key 'pkcs11:token=online;object=snapshot' --timestamp-key 'pkcs11:token=online;object=timestamp'",
        'keyward trust repo init ./repo --root-key alice.pub.pem --root-key bob.pub.pem --root-threshold 2 …   # sign later: keyward trust repo sign',
      ]),
    )
    .action(async (dir: string, options: Record<string, string[] | string | undefined>, command: Command) => {
      const { CliContext } = await import('../context.js');
      const { Repository } = await import('../../src/trust/repository/repository.js');
      const { checkExpiryDays } = await import('../../src/trust/repository/workspace.js');
      const ctx = await CliContext.of(command);
      try {
        const sources = async (flag: string) =>
          keySources(ctx, options[flag] as string[] | undefined, `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        const expiry: Record<string, number> = {};
        for (const item of (options.expiry as string[] | undefined) ?? []) {
          const match = /^(root|targets|snapshot|timestamp|delegations)=(\d+)$/.exec(item);
          if (!match) throw keywardError('TUF_EXPIRY', `--expiry "${item}" is not role=days`, { hint: `roles: ${ROLES}, delegations; days ≥ 1` });
          expiry[match[1]!] = checkExpiryDays(Number(match[2]), `--expiry ${match[1]}`);
        }
        const created = await Repository.init(
          dir,
          {
            root: { keys: await sources('rootKey'), threshold: int(options.rootThreshold as string, '--root-threshold', 1) },
            targets: { keys: await sources('targetsKey'), threshold: int(options.targetsThreshold as string, '--targets-threshold', 1) },
            snapshot: { keys: await sources('snapshotKey'), threshold: 1 },
            timestamp: { keys: await sources('timestampKey'), threshold: 1 },
            expiry,
          },
          { keystore: ctx.keystore(), lock: await lockOptions(ctx, command) },
        );
        const status = created.status();
        ctx.emit(
          { dir, published: !created.hasStagedChanges(), status },
          () =>
            `${created.hasStagedChanges() ? `repository staged in ${dir}; collect the missing signatures (keyward trust repo sign)` : `repository published in ${dir}`}\n${describeStatus(status)}`,
        );
      } finally {
        await ctx.keystore().close();
      }
    });

  signingOptions(
    repo
      .command('add-target <dir> <path>')
      .description('add or replace a target, from a file or from a digest and length (an image manifest)')
      .option('--file <file>', 'the target file (copied under targets/ by its hash)')
      .option('--digest <sha256:hex>', "the target's SHA-256, when the file lives elsewhere (a registry)")
      .option('--length <bytes>', "the target's length, with --digest")
      .option('--custom <json>', 'custom metadata for the target, a JSON object')
      .option('--role <role>', 'the role to put it in (default: where the delegations lead its path)'),
  )
    .addHelpText(
      'after',
      examples([
        "keyward trust repo add-target ./repo app/v1.2.tar.gz --file dist/app.tar.gz --sign-with 'yubikey:slot=9c'",
        'keyward trust repo add-target ./repo registry.example/app:1.2 --digest sha256:4f1c… --length 1462',
      ]),
    )
    .action(async (dir: string, path: string, options: SigningOptions & TargetOptions & { role?: string }, command: Command) =>
      withRepository(command, dir, async (ctx, repository) => {
        const { info, bytes } = await targetFrom(options);
        await changeRepository(ctx, repository, options, (edits) => {
          const { role, previous } = edits.addTarget(path, info, { role: options.role, bytes });
          return `${previous ? 'replaced' : 'added'} ${path} in ${role} (sha256 ${info.hashes.sha256}, ${info.length} bytes)`;
        });
      }),
    );

  signingOptions(
    repo
      .command('delegate <dir> <name>')
      .description('delegate paths (glob patterns or hash prefixes) to a new role with its own keys and threshold')
      .addOption(new Option('--key <key>', 'a key of the new role: a Keystore URI or a PEM public key file (repeat)').argParser(collect).makeOptionMandatory())
      .option('--threshold <n>', 'signatures the role needs', '1')
      .option('--path <pattern>', 'a path pattern the role may sign for, e.g. "releases/*" (repeat)', collect)
      .option('--hash-prefix <hex>', 'a SHA-256 prefix of the paths the role may sign for (repeat)', collect)
      .option('--terminating', 'stop the search here for paths this role covers')
      .option('--from <role>', 'the delegating role', 'targets'),
  )
    .addHelpText(
      'after',
      examples([
        "keyward trust repo delegate ./repo releases --path 'releases/*' --terminating --threshold 2 \\\n    --key 'yubikey:serial=111;slot=9c' --key 'yubikey:serial=222;slot=9c' --key carol.pub.pem --sign-with 'pkcs11:token=offline;object=targets'",
      ]),
    )
    .action(
      async (
        dir: string,
        name: string,
        options: SigningOptions & { key: string[]; threshold: string; path?: string[]; hashPrefix?: string[]; terminating?: boolean; from: string },
        command: Command,
      ) =>
        withRepository(command, dir, async (ctx, repository) => {
          const sources = await keySources(ctx, options.key, '--key');
          await changeRepository(
            ctx,
            repository,
            options,
            (edits) => {
              edits.delegate(options.from, {
                name,
                keys: sources.map((s) => s.key),
                threshold: int(options.threshold, '--threshold', 1),
                terminating: options.terminating,
                paths: options.path,
                pathHashPrefixes: options.hashPrefix,
              });
              return `delegated ${(options.path ?? options.hashPrefix ?? []).join(', ')} from ${options.from} to ${name}`;
            },
            sources,
          );
        }),
    );

  signingOptions(
    repo
      .command('hash-bins <dir>')
      .description('split targets over hash-bin roles (a power of two of them), for very large repositories')
      .requiredOption('--count <n>', 'number of bins: 16, 256, …')
      .addOption(new Option('--key <key>', 'a key of the bins (repeat)').argParser(collect).makeOptionMandatory())
      .option('--threshold <n>', 'signatures each bin needs', '1')
      .option('--from <role>', 'the delegating role', 'targets')
      .option('--prefix <name>', "the bins' name prefix", 'bins'),
  )
    .addHelpText(
      'after',
      examples([
        "keyward trust repo hash-bins ./repo --count 256 --key 'pkcs11:token=online;object=bins' \\\n    --sign-with 'pkcs11:token=offline;object=targets' --sign-with 'pkcs11:token=online;object=bins'",
      ]),
    )
    .action(
      async (dir: string, options: SigningOptions & { count: string; key: string[]; threshold: string; from: string; prefix: string }, command: Command) =>
        withRepository(command, dir, async (ctx, repository) => {
          const sources = await keySources(ctx, options.key, '--key');
          await changeRepository(
            ctx,
            repository,
            options,
            (edits) => {
              const bins = edits.hashBins(
                options.from,
                int(options.count, '--count', 0),
                sources.map((s) => s.key),
                int(options.threshold, '--threshold', 1),
                options.prefix,
              );
              return `${bins.length} hash bins under ${options.from}: ${bins[0]} … ${bins.at(-1)}`;
            },
            sources,
          );
        }),
    );

  signingOptions(repo.command('undelegate <dir> <name>').description('remove a delegated role (its delegator is re-signed)'))
    .addHelpText('after', examples(["keyward trust repo undelegate ./repo releases --sign-with 'pkcs11:token=offline;object=targets'"]))
    .action(async (dir: string, name: string, options: SigningOptions, command: Command) =>
      withRepository(command, dir, async (ctx, repository) =>
        changeRepository(ctx, repository, options, (edits) => `removed ${name} from ${edits.undelegate(name)}`),
      ),
    );

  signingOptions(
    repo
      .command('rotate-key <dir> <role>')
      .description('add and remove keys of any role, or change its threshold (root changes are signed by the old and the new root keys)')
      .option('--add <key>', 'a new key: a Keystore URI or a PEM public key file (repeat)', collect)
      .option('--remove <keyid-or-key>', 'a key to retire: its key id, URI or public key file (repeat)', collect)
      .option('--threshold <n>', 'the new threshold'),
  )
    .addHelpText(
      'after',
      examples([
        "keyward trust repo rotate-key ./repo targets --add 'yubikey:serial=333;slot=9c' --remove 3f2a… --sign-with 'pkcs11:token=offline;object=root'",
      ]),
    )
    .action(async (dir: string, role: string, options: SigningOptions & { add?: string[]; remove?: string[]; threshold?: string }, command: Command) =>
      withRepository(command, dir, async (ctx, repository) => {
        const { keyIdOf } = await import('../../src/trust/keys.js');
        const add = await keySources(ctx, options.add, '--add');
        const remove = await Promise.all(
          (options.remove ?? []).map(async (k) => (/^[0-9a-f]{64}$/.test(k) ? k : keyIdOf((await keySource(ctx, k, '--remove')).key))),
        );
        await changeRepository(
          ctx,
          repository,
          options,
          (edits) => {
            edits.rotate(role, {
              add: add.map((s) => s.key),
              remove,
              threshold: options.threshold === undefined ? undefined : int(options.threshold, '--threshold', 1),
            });
            return `${role}: ${add.length} key(s) added, ${remove.length} removed${options.threshold ? `, threshold ${options.threshold}` : ''}`;
          },
          add,
        );
      }),
    );

  signingOptions(
    repo
      .command('sign <dir>')
      .description('add your signatures to the staged changes (one key at a time, any machine, any day); publishes once every threshold is met'),
    new Option('--key <uri>', 'the key to sign with (repeat)').argParser(collect).makeOptionMandatory(),
  )
    .addHelpText(
      'after',
      examples([
        'keyward trust repo sign ./repo --key \'yubikey:slot=9c\'   # shows what others staged, asks, then "Touch your YubiKey…"',
        "keyward trust repo status ./repo && keyward --no-input trust repo sign ./repo --key 'yubikey:slot=9c' --expect sha256:…",
      ]),
    )
    .action(async (dir: string, options: { key: string[]; publish: boolean; expect?: string }, command: Command) =>
      withRepository(command, dir, async (ctx, repository) => changeRepository(ctx, repository, { ...options, signWith: options.key }, undefined)),
    );

  repo
    .command('status <dir>')
    .description('per role: version, expiry, who has signed, who is missing, whether the threshold is met')
    .addHelpText('after', examples(['keyward trust repo status ./repo', "keyward trust repo status ./repo --json | jq '.roles[] | select(.met | not)'"]))
    .action(async (dir: string, _options: unknown, command: Command) =>
      withRepository(command, dir, async (ctx, repository) => {
        const roles = repository.status();
        const staged = repository.hasStagedChanges() ? repository.stagedChanges() : null;
        ctx.emit({ roles, staged }, () =>
          [
            describeStatus(roles),
            ...(staged ? [`\nstaged changes, against what is published (digest ${staged.digest}, for --expect):`, describeChanges(staged.roles)] : []),
          ].join('\n'),
        );
      }),
    );

  repo
    .command('publish <dir>')
    .description('publish the staged changes (refused while a threshold is unmet), with a new snapshot and timestamp')
    .addHelpText(
      'after',
      examples(['keyward trust repo publish ./repo', 'keyward trust repo sign ./repo --key … --no-publish && keyward trust repo publish ./repo']),
    )
    .action(async (dir: string, _options: unknown, command: Command) =>
      withRepository(command, dir, async (ctx, repository) => {
        const report = await repository.publish();
        ctx.emit(report, () => describePublish(report));
      }),
    );

  repo
    .command('discard <dir> [roles...]')
    .description('drop staged changes and the signatures collected for them: all, or those of the named roles')
    .addOption(yesOption())
    .addHelpText(
      'after',
      examples([
        'keyward trust repo discard ./repo                # every staged change (asks first)',
        'keyward trust repo discard ./repo releases --yes # only the staged releases role',
        'keyward trust repo discard ./repo --yes --json   # {"discarded":["targets","releases"]}',
      ]),
    )
    .action(async (dir: string, roles: string[], options: { yes?: boolean }, command: Command) =>
      withRepository(command, dir, async (ctx, repository) => {
        const staged = repository.stagedRoles();
        const named = roles.length ? roles : staged;
        // Checked before asking: a question about nothing staged would be a question for nothing.
        if (staged.length > 0 && named.every((role) => staged.includes(role))) {
          await confirmDestruction(ctx, options.yes, {
            question: `Discard the staged changes to ${named.join(', ')} in ${dir}, with their signatures?`,
            action: 'discard staged changes',
            declined: 'nothing was discarded',
          });
        }
        const discarded = await repository.discard(roles.length ? roles : undefined);
        ctx.emit({ discarded }, () => `discarded the staged changes to ${discarded.join(', ')}`);
      }),
    );

  repo
    .command('upgrade <dir>')
    .description('move a repository made by an earlier Keyward (metadata/ and targets/ beside .keyward/) into public/')
    .addHelpText('after', examples(['keyward trust repo upgrade /srv/tuf   # then serve /srv/tuf/public where /srv/tuf was served: clients see the same URLs']))
    .action(async (dir: string, _options: unknown, command: Command) => {
      const { CliContext } = await import('../context.js');
      const { Repository } = await import('../../src/trust/repository/repository.js');
      const ctx = await CliContext.of(command);
      const moved = await Repository.upgrade(dir, { lock: await lockOptions(ctx, command) });
      const { join } = await import('node:path');
      const served = join(dir, 'public');
      ctx.emit({ dir, upgraded: moved, serve: served }, () =>
        moved
          ? `moved metadata/ and targets/ into ${served}: serve that directory, and nothing else of ${dir}`
          : `${dir} already has today's layout: serve ${served}`,
      );
    });

  repo
    .command('refresh <dir>')
    .description('for cron: a new timestamp (and snapshot when due or asked); publishes staged changes that are ready')
    .option('--snapshot', 'sign a new snapshot too')
    .addHelpText('after', examples(['*/30 * * * *  keyward trust repo refresh /srv/tuf']))
    .action(async (dir: string, options: { snapshot?: boolean }, command: Command) =>
      withRepository(command, dir, async (ctx, repository) => {
        const report = await repository.refresh({ snapshot: options.snapshot });
        ctx.emit(report, () => describePublish(report));
      }),
    );
}
