/**
 * `keyward notary …`: Docker Content Trust (Notary v1) on a notary-server, modelled on `docker
 * trust`, with every key in a device: init a GUN, sign and revoke tags (a YubiKey: one touch),
 * inspect, add and remove signers (delegations), rotate keys. Only commander loads here: each
 * action imports what it needs when it runs.
 */
import { Option, type Command } from 'commander';
import { examples } from '../help.js';
import { registryOptions, type RegistryFlags } from '../image/common.js';
import { collect, wholeNumber } from '../options.js';
import { emitPublish, keyOption, notaryContext, publicKeyFile, serverOptions, signerRole, signersOf, withNotary, type ServerOptions } from './common.js';

const SERVER = '--server https://notary.example:4443 --tls-ca notary-ca.pem';

/** `keyward notary`'s commands. */
export function defineNotary(notary: Command): void {
  notary.addHelpText(
    'after',
    examples([
      `keyward notary init registry.example/team/app --root-key 'pkcs11:token=offline;object=root' --targets-key 'yubikey:slot=9c' ${SERVER}`,
      `keyward notary sign registry.example/team/app:v1.2 --digest sha256:4f1c… --size 1462 ${SERVER}      # Touch your YubiKey…`,
      `keyward notary inspect registry.example/team/app ${SERVER}`,
    ]) +
      `
Keyward keeps, per GUN, the root it trusts (the first one seen, then each rotation signed by the one
before) and the URIs of the keys it used, never a key: --trust-dir, KEYWARD_NOTARY_DIR, else
~/.local/share/keyward/notary. The server defaults to KEYWARD_NOTARY_SERVER.
`,
  );

  serverOptions(
    notary
      .command('init <gun>')
      .description("make a GUN's trust data: a root certificate (CN = the GUN) signed in the root key's device, targets, and the server's timestamp key")
      .requiredOption('--root-key <uri>', 'the root key (ECDSA or RSA, in a device; an offline token)')
      .requiredOption('--targets-key <uri>', 'the targets key')
      .option('--snapshot-key <uri>', 'keep the snapshot key yourself, in this device (default: the server holds and signs snapshot)')
      .addHelpText(
        'after',
        examples([
          `keyward notary init registry.example/team/app --root-key 'pkcs11:token=offline;object=root' --targets-key 'yubikey:slot=9c' ${SERVER}`,
          `keyward notary init registry.example/team/app --root-key … --targets-key … --snapshot-key 'pkcs11:token=online;object=snapshot' ${SERVER}`,
        ]),
      ),
  ).action(async (gun: string, options: ServerOptions & { rootKey: string; targetsKey: string; snapshotKey?: string }, command: Command) =>
    withNotary(command, async (ctx) => {
      const { checkGun } = await import('../../src/trust/notary/gun.js');
      const { NotaryRepository } = await import('../../src/trust/notary/repository.js');
      const { deviceSigner } = await import('../../src/trust/signer.js');
      checkGun(gun);
      const context = await notaryContext(ctx, gun, options);
      const root = await ctx.keystore().open(options.rootKey);
      const targets = await deviceSigner(await ctx.keystore().open(options.targetsKey));
      const snapshot = options.snapshotKey ? await deviceSigner(await ctx.keystore().open(options.snapshotKey)) : undefined;
      const report = await NotaryRepository.init(context, { root, targets, snapshot });
      emitPublish(ctx, `initialised ${gun} on ${context.server.url.origin}`, report, { gun });
    }),
  );

  serverOptions(
    registryOptions(notary.command('sign <gun:tag>'))
      .description('sign a tag: the manifest digest and size, into targets, or into the delegation (targets/releases first) whose key you give')
      .option('--digest <sha256:hex>', "the image manifest's digest (default: read from the registry the GUN names)")
      .option('--size <bytes>', "the manifest's size in bytes, with --digest")
      .addOption(keyOption('sign with this key: a delegation key (as docker trust sign does), or the targets key (default: the targets key recorded here)'))
      .option('--role <role>', 'the role to sign into (targets, or targets/<name>; default: chosen by the key)')
      .addHelpText(
        'after',
        examples([
          `keyward notary sign registry.example/team/app:v1.2 ${SERVER}      # the digest and size of what the tag names now, from the registry`,
          `keyward notary sign registry.example/team/app:v1.2 --digest sha256:4f1c… --size 1462 ${SERVER}`,
          `keyward notary sign registry.example/team/app:v1.2 --digest sha256:4f1c… --size 1462 --key 'yubikey:slot=9c' ${SERVER}      # Touch your YubiKey…`,
          `keyward notary sign registry.example/team/app:v1.2 --digest sha256:4f1c… --size 1462 --key 'yubikey:slot=9c' --key 'pkcs11:token=ci;object=release' ${SERVER}   # a 2-of-N signer`,
        ]),
      ),
  ).action(
    async (reference: string, options: ServerOptions & RegistryFlags & { digest?: string; size?: string; key?: string[]; role?: string }, command: Command) =>
      withNotary(command, async (ctx) => {
        const { keywardError } = await import('../../src/errors.js');
        const { parseReference } = await import('../../src/trust/notary/gun.js');
        const { NotaryRepository } = await import('../../src/trust/notary/repository.js');
        const { gun, tag } = parseReference(reference, true);
        let digest: RegExpExecArray | null;
        let size: number;
        if (options.digest === undefined && options.size === undefined) {
          // What the tag names in the registry now: the GUN is REGISTRY/REPOSITORY, as docker trust has it.
          const { openRegistry } = await import('../image/common.js');
          const { resolveImage } = await import('../../src/image/resolve.js');
          const { reference: image, client } = await openRegistry(ctx, `${gun}:${tag}`, options);
          const manifest = await resolveImage(client, image);
          digest = /^sha256:([0-9a-f]{64})$/.exec(manifest.digest);
          size = manifest.bytes.length;
        } else {
          if (options.digest === undefined || options.size === undefined)
            throw keywardError('OPTION_INVALID', 'give --digest and --size together, or neither (then the registry says)');
          digest = /^sha256:([0-9a-f]{64})$/.exec(options.digest);
          size = wholeNumber(options.size, '--size', { min: 1 });
        }
        if (!digest)
          throw keywardError('OPTION_INVALID', `--digest wants sha256:<64 hex digits>, got "${String(options.digest).slice(0, 80)}"`, {
            hint: 'the manifest digest, e.g. from docker buildx imagetools inspect or skopeo inspect',
          });
        const signers = await signersOf(ctx, options.key);
        const repo = await NotaryRepository.open(await notaryContext(ctx, gun, options));
        const target = { length: size, hashes: { sha256: Buffer.from(digest[1]!, 'hex').toString('base64') } };
        const previous = repo.lookup(tag);
        const report = await repo.sign(tag, target, signers, options.role);
        emitPublish(
          ctx,
          `signed ${gun}:${tag} into ${report.role}: sha256:${digest[1]}, ${size} bytes${previous ? ` (it named sha256:${previous.sha256} in ${previous.role})` : ''}`,
          report,
          {
            gun,
            tag,
            digest: `sha256:${digest[1]}`,
            size,
            previous: previous ?? null,
          },
        );
      }),
  );

  serverOptions(
    notary
      .command('inspect <gun[:tag]>')
      .description('the signed tags (or one), the signers and their keys, and the administrative keys of a GUN, verified')
      .addHelpText(
        'after',
        examples([`keyward notary inspect registry.example/team/app ${SERVER}`, `keyward notary inspect registry.example/team/app:v1.2 --json ${SERVER}`]),
      ),
  ).action(async (reference: string, options: ServerOptions, command: Command) =>
    withNotary(command, async (ctx) => {
      const { keywardError } = await import('../../src/errors.js');
      const { parseReference } = await import('../../src/trust/notary/gun.js');
      const { NotaryRepository } = await import('../../src/trust/notary/repository.js');
      const { describeInspection, inspection } = await import('./inspect.js');
      const { gun, tag } = parseReference(reference);
      const repo = await NotaryRepository.open(await notaryContext(ctx, gun, options));
      const result = await inspection(repo, tag);
      if (tag && result.tags.length === 0)
        throw keywardError('NOTARY_TAG_UNKNOWN', `${gun} has no signed tag "${tag}"`, { hint: `keyward notary inspect ${gun} lists the signed tags` });
      if (repo.firstUse) ctx.say(`trusting the root of ${gun} on first use (root v${repo.root.signed.version}); later roots must be signed by it`);
      ctx.emit(result, () => describeInspection(result));
    }),
  );

  serverOptions(
    notary
      .command('revoke <gun:tag>')
      .description('remove a signed tag from every role that holds it (all of them or none)')
      .addOption(keyOption('sign with this key: a delegation key, or the targets key (default: the keys recorded here)'))
      .addHelpText(
        'after',
        examples([
          `keyward notary revoke registry.example/team/app:v1.2 ${SERVER}`,
          `keyward notary revoke registry.example/team/app:v1.2 --key 'yubikey:slot=9c' ${SERVER}`,
        ]),
      ),
  ).action(async (reference: string, options: ServerOptions & { key?: string[] }, command: Command) =>
    withNotary(command, async (ctx) => {
      const { parseReference } = await import('../../src/trust/notary/gun.js');
      const { NotaryRepository } = await import('../../src/trust/notary/repository.js');
      const { gun, tag } = parseReference(reference, true);
      const signers = await signersOf(ctx, options.key);
      const repo = await NotaryRepository.open(await notaryContext(ctx, gun, options));
      const report = await repo.revoke(tag, signers);
      emitPublish(ctx, `revoked ${gun}:${tag} (from ${report.roles.join(', ')})`, report, { gun, tag });
    }),
  );

  const signer = notary
    .command('signer')
    .description('signers of a GUN: delegations of targets (targets/<name>) with their keys and threshold')
    .addHelpText('after', examples([`keyward notary signer add registry.example/team/app releases --key 'yubikey:slot=9c' ${SERVER}`]));

  serverOptions(
    signer
      .command('add <gun> <name>')
      .description('add a signer (the delegation targets/<name>, or its keys added to it when it exists); signed with the targets key')
      .addOption(keyOption("the signer's key in a device (recorded here, so that sign --key finds it)"))
      .addOption(new Option('--key-pub <file>', "the signer's public key or certificate (PEM), for a key held elsewhere (repeat)").argParser(collect))
      .option('--threshold <n>', 'signatures of this signer needed on a tag', '1')
      .addOption(new Option('--path <prefix>', 'tags it may sign: a prefix (repeat; default: every tag)').argParser(collect))
      .addOption(new Option('--sign-with <uri>', 'the targets key, when Keyward has none recorded for the GUN').argParser(collect))
      .addHelpText(
        'after',
        examples([
          `keyward notary signer add registry.example/team/app releases --key 'yubikey:serial=12345678;slot=9c' ${SERVER}`,
          `keyward notary signer add registry.example/team/app releases --key-pub alice.pem --key-pub bob.pem --key-pub carol.pem --threshold 2 ${SERVER}`,
        ]),
      ),
  ).action(
    async (
      gun: string,
      name: string,
      options: ServerOptions & { key?: string[]; keyPub?: string[]; threshold: string; path?: string[]; signWith?: string[] },
      command: Command,
    ) =>
      withNotary(command, async (ctx) => {
        const { keywardError } = await import('../../src/errors.js');
        const { checkGun } = await import('../../src/trust/notary/gun.js');
        const { NotaryRepository } = await import('../../src/trust/notary/repository.js');
        const { notaryKeyFromSpki, notaryKeyId } = await import('../../src/trust/notary/dialect.js');
        checkGun(gun);
        if (!options.key?.length && !options.keyPub?.length)
          throw keywardError('OPTION_MISSING', "give the signer's key: --key URI (a key in a device) or --key-pub FILE (a public key)", {
            hint: `keyward key public URI > alice.pem makes the file`,
          });
        const devices = await signersOf(ctx, options.key);
        const keys = [...devices.map((d) => notaryKeyFromSpki(d.publicKey))];
        for (const file of options.keyPub ?? []) keys.push(await publicKeyFile(file, '--key-pub'));
        const threshold = wholeNumber(options.threshold, '--threshold', { min: 1 });
        const context = await notaryContext(ctx, gun, options);
        const repo = await NotaryRepository.open(context);
        const role = signerRole(name);
        const report = await repo.addSigner(role, keys, threshold, await signersOf(ctx, options.signWith), options.path);
        context.store.rememberKeys(
          gun,
          devices.map((d) => ({ keyid: notaryKeyId(notaryKeyFromSpki(d.publicKey)), uri: d.uri })),
        );
        emitPublish(ctx, `added ${keys.length} key${keys.length === 1 ? '' : 's'} to ${role} of ${gun}, threshold ${threshold}`, report, {
          gun,
          role,
          keyids: keys.map(notaryKeyId),
          threshold,
        });
      }),
  );

  serverOptions(
    signer
      .command('remove <gun> <name>')
      .description('remove a signer (the delegation targets/<name>) and its tags from what clients see; signed with the targets key')
      .addOption(new Option('--sign-with <uri>', 'the targets key, when Keyward has none recorded for the GUN').argParser(collect))
      .addHelpText('after', examples([`keyward notary signer remove registry.example/team/app alice ${SERVER}`])),
  ).action(async (gun: string, name: string, options: ServerOptions & { signWith?: string[] }, command: Command) =>
    withNotary(command, async (ctx) => {
      const { checkGun } = await import('../../src/trust/notary/gun.js');
      const { NotaryRepository } = await import('../../src/trust/notary/repository.js');
      checkGun(gun);
      const repo = await NotaryRepository.open(await notaryContext(ctx, gun, options));
      const role = signerRole(name);
      const report = await repo.removeSigner(role, await signersOf(ctx, options.signWith));
      emitPublish(ctx, `removed ${role} from ${gun}`, report, { gun, role });
    }),
  );

  const key = notary
    .command('key')
    .description("a GUN's keys")
    .addHelpText('after', examples([`keyward notary key rotate registry.example/team/app snapshot ${SERVER}`]));

  serverOptions(
    key
      .command('rotate <gun> <role>')
      .description(
        'replace the key of root, targets or snapshot with a key in a device, or hand snapshot or timestamp to a new server key; a new root signed by the old root key and the new one',
      )
      .option('--key <uri>', 'the new key, in a device (root and targets need one; for snapshot it keeps the key yourself)')
      .addOption(new Option('--sign-with <uri>', 'keys to sign with that Keyward has not recorded for the GUN (the current root key, say)').argParser(collect))
      .addHelpText(
        'after',
        examples([
          `keyward notary key rotate registry.example/team/app root --key 'pkcs11:token=offline;object=root-2027' ${SERVER}`,
          `keyward notary key rotate registry.example/team/app targets --key 'yubikey:slot=9d' ${SERVER}`,
          `keyward notary key rotate registry.example/team/app snapshot ${SERVER}      # the server holds it from now on`,
          `keyward notary key rotate registry.example/team/app timestamp ${SERVER}`,
        ]),
      ),
  ).action(async (gun: string, role: string, options: ServerOptions & { key?: string; signWith?: string[] }, command: Command) =>
    withNotary(command, async (ctx) => {
      const { keywardError } = await import('../../src/errors.js');
      const { checkGun } = await import('../../src/trust/notary/gun.js');
      const { NotaryRepository } = await import('../../src/trust/notary/repository.js');
      checkGun(gun);
      if (role !== 'root' && role !== 'targets' && role !== 'snapshot' && role !== 'timestamp')
        throw keywardError('NOTARY_ROTATION', `"${role.slice(0, 40)}" is not a role whose key rotates here`, {
          hint: 'root, targets, snapshot or timestamp (a signer: keyward notary signer add/remove)',
        });
      const signers = await signersOf(ctx, options.signWith);
      const next = options.key ? { handle: await ctx.keystore().open(options.key) } : ('server' as const);
      const repo = await NotaryRepository.open(await notaryContext(ctx, gun, options));
      const report = await repo.rotateKey(role, next, signers);
      emitPublish(ctx, `rotated the ${role} key of ${gun} to ${next === 'server' ? "the server's" : options.key} (key id ${report.keyid})`, report, {
        gun,
        role,
        keyid: report.keyid,
      });
    }),
  );
}
