/**
 * `keyward trust sign`: a developer signs a release with one touch. The target goes into the role
 * its path is delegated to, signed with that role's key on the developer's YubiKey ("Touch your
 * YubiKey…" shows only while the card waits), and is published when the thresholds are met and
 * the online keys are at hand. A release signed by another developer of the same role, identical,
 * gets this signature beside theirs; anything else staged in the role by others is shown for
 * approval first. Everything heavy loads after the arguments are parsed.
 */
import { Option, type Command } from 'commander';
import { examples } from '../help.js';
import { emitChange, signingOptions, signingRequest, targetFrom, withRepository, type SigningOptions, type TargetOptions } from './common.js';

/** Its keys are `--key` (one, or the role's recorded key), not `--sign-with`. */
type SignOptions = Omit<SigningOptions, 'signWith'> & TargetOptions & { key?: string; role?: string };

/** `keyward trust sign` (named in index.ts). */
export function defineSign(sign: Command): void {
  signingOptions(
    sign
      .argument('<repo>', 'the repository directory')
      .argument('<target>', 'the target path, e.g. releases/app-1.2.tar.gz')
      .option('--file <file>', 'the release file')
      .option('--digest <sha256:hex>', "the release's SHA-256 (an image manifest), with --length")
      .option('--length <bytes>', 'its length in bytes')
      .option('--custom <json>', 'custom metadata, a JSON object')
      .option('--role <role>', 'the role to sign into (default: where the delegations lead the path)'),
    new Option('--key <uri>', "the key to sign with (default: the key recorded for the target's role, a YubiKey first)"),
  )
    .addHelpText(
      'after',
      examples([
        'keyward trust sign ./repo releases/app-1.2.tar.gz --file dist/app-1.2.tar.gz      # Touch your YubiKey…',
        "keyward trust sign ./repo registry.example/app:1.2 --digest sha256:4f1c… --length 1462 --key 'yubikey:slot=9c'",
      ]),
    )
    .action(async (dir: string, path: string, options: SignOptions, command: Command) =>
      withRepository(command, dir, async (ctx, repo) => {
        const { keywardError } = await import('../../src/errors.js');
        const { signerOf } = await import('../../src/trust/signer.js');
        const { KeyUri } = await import('../../src/keystore/uri/origin.js');
        const { info, bytes } = await targetFrom(options);
        const role = options.role ?? repo.responsibleRole(path);
        // The role's key Keyward knows a URI for, a YubiKey first (the developer's touch-to-sign key).
        const known = repo.keyUris(role);
        const uri = options.key !== undefined ? KeyUri.of(options.key) : (known.find((u) => u.text.startsWith('yubikey:')) ?? known[0]);
        if (!uri) {
          throw keywardError('TUF_SIGNING_KEY', `no key of role "${role}" is recorded in ${dir}`, { hint: `name it: --key 'yubikey:serial=…;slot=9c'` });
        }
        const signer = await signerOf(await ctx.keystore().open(uri));
        const report = await repo.change({
          edit: (edits) => edits.addTarget(path, info, { role: options.role, bytes }),
          roles: [role],
          ...(await signingRequest(ctx, options, [signer])),
        });
        const { previous } = report.result!;
        const version = report.status.find((s) => s.role === role)?.version;
        const change = `${previous ? 'replaced' : 'added'} ${path} in ${role} v${version}: sha256 ${info.hashes.sha256}, ${info.length} bytes`;
        emitChange(ctx, change, report, { target: path, role, version, info, previous: previous ?? null, signedBy: signer.uri });
      }),
    );
}
