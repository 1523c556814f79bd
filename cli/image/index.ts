/**
 * `keyward image …`: container images signed in cosign's format, where cosign, podman, skopeo and
 * CRI-O look for signatures: `sign` (a YubiKey: one touch), `verify`, `signatures`. Only commander
 * and the CLI's helpers load here; each action imports the registry client and the keystore when it runs.
 */
import type { Command } from 'commander';
import { examples } from '../help.js';
import { openRegistry, REGISTRY_HELP, registryOptions, verifierKeys, type RegistryFlags } from './common.js';
import { collect } from '../options.js';

const REF = '127.0.0.1:5000/demo/app:1.0';

const WHERE = `
The signature goes where cosign and containers/image look: the tag sha256-<hex of the manifest
digest>.sig in the image's repository, one layer per signature (a simple-signing payload naming
registry/repository and the digest; the signature in its dev.cosignproject.cosign/signature
annotation). The digest is signed, never the tag; a multi-platform index is signed as the index,
and with --recursive each platform's manifest too: podman and skopeo check the signature of the
platform manifest they pull (and with --all, of the index and every platform's).
`;

/** `keyward image`'s commands. */
export function defineImage(image: Command): void {
  image.addHelpText(
    'after',
    examples([
      `keyward image sign ${REF} --key 'yubikey:slot=9c' --plain-http`,
      `keyward image verify ${REF} --key signer.pub.pem --plain-http`,
      `keyward image signatures ${REF} --json --plain-http`,
    ]),
  );

  registryOptions(
    image
      .command('sign')
      .description('sign an image (its manifest digest) with a key in hardware, and add the signature to those in the registry')
      .argument('<image>', 'registry/repository:tag or registry/repository@sha256:…')
      .requiredOption('--key <uri>', 'the key to sign with (a YubiKey: one touch)')
      .option('--recursive', "an index: sign each platform's manifest too (containers/image checks the one it pulls); one signature in the device each"),
  )
    .addHelpText(
      'after',
      examples([
        `keyward image sign ${REF} --key 'yubikey:serial=12345678;slot=9c' --plain-http     # Touch your YubiKey…`,
        "keyward image sign registry.example/team/app@sha256:4f1c… --key 'pkcs11:token=release;object=signer' --registry-ca ca.pem --username ci --password-file pw",
      ]) +
        WHERE +
        `
A tag that moves while the device signs gets nothing (the signature names the digest resolved; sign
that digest with @sha256:… if it is the one you mean). A wrong PIN or no touch writes nothing.
` +
        REGISTRY_HELP,
    )
    .action(async (text: string, options: RegistryFlags & { key: string; recursive?: boolean }, command: Command) => {
      const { CliContext } = await import('../context.js');
      const ctx = await CliContext.of(command);
      try {
        const { reference, client } = await openRegistry(ctx, text, options);
        const { signImage } = await import('../../src/image/sign.js');
        const handle = await ctx.keystore().open(options.key);
        const result = await signImage({
          client,
          reference,
          key: handle,
          recursive: options.recursive,
          onResolved: ({ digest, mediaType }) => ctx.say(`${text} is ${digest} (${kind(mediaType)})`),
        });
        ctx.emit(result, () =>
          result.alreadySigned
            ? `${result.repository}@${result.digest} is already signed by ${result.signedBy}; nothing written`
            : [
                `signed ${result.repository}@${result.digest} with ${result.signedBy}`,
                `stored in ${result.repository}:${result.signatureTag} (${result.signatures} signature${result.signatures === 1 ? '' : 's'})`,
                ...(result.writes > 1 ? [`another signer wrote at the same time; written ${result.writes} times to keep both`] : []),
                ...result.platforms.map(
                  (p) => `${p.platform}: ${p.digest} ${p.alreadySigned ? 'already signed' : 'signed'} (${p.signatures} in ${p.signatureTag})`,
                ),
              ].join('\n'),
        );
      } finally {
        await ctx.keystore().close();
      }
    });

  registryOptions(
    image
      .command('verify')
      .description('exit 0 only when a signature by the key names the digest the image has now, for its repository')
      .argument('<image>', 'registry/repository:tag or registry/repository@sha256:…')
      .requiredOption('--key <file>', 'a public key (PEM or DER) or a certificate chain (PEM: leaf … root); repeat for several', collect),
  )
    .addHelpText(
      'after',
      examples([`keyward image verify ${REF} --key signer.pub.pem --plain-http`, `keyward image verify ${REF} --key signer-chain.pem --json --plain-http`]) +
        `
Exit codes: 0 verified; 3 no signature at all (IMAGE_UNSIGNED) or no such image; 6 signatures, but
none by the key for this digest and repository (IMAGE_SIGNATURE_INVALID), or content the registry
altered; 4 the registry refused the credentials; 5 the registry unreachable or answering nonsense.
` +
        REGISTRY_HELP,
    )
    .action(async (text: string, options: RegistryFlags & { key: string[] }, command: Command) => {
      const { CliContext } = await import('../context.js');
      const ctx = await CliContext.of(command);
      const keys = await verifierKeys(options.key);
      const { reference, client } = await openRegistry(ctx, text, options);
      const { verifyImage } = await import('../../src/image/verify.js');
      const result = await verifyImage(client, reference, keys);
      ctx.emit(result, () =>
        [
          `verified ${result.repository}@${result.digest} (${kind(result.mediaType)})`,
          ...result.verified.map((s) => `  signature ${s.layer}: by key ${s.verifiedBy!.slice(0, 16)}…${s.subject ? ` (${s.subject})` : ''}`),
        ].join('\n'),
      );
    });

  registryOptions(
    image
      .command('signatures')
      .description("list an image's signatures: what each names, which key says it made it, and with --key which verify")
      .argument('<image>', 'registry/repository:tag or registry/repository@sha256:…')
      .option('--key <file>', 'public keys or certificate chains to check the signatures with; repeat for several', collect),
  )
    .addHelpText(
      'after',
      examples([`keyward image signatures ${REF} --json --plain-http`, `keyward image signatures ${REF} --key alice.pub.pem --key bob.pub.pem --plain-http`]) +
        REGISTRY_HELP,
    )
    .action(async (text: string, options: RegistryFlags & { key?: string[] }, command: Command) => {
      const { CliContext, table } = await import('../context.js');
      const ctx = await CliContext.of(command);
      const keys = await verifierKeys(options.key ?? []);
      const { reference, client } = await openRegistry(ctx, text, options);
      const { imageSignatures } = await import('../../src/image/verify.js');
      const result = await imageSignatures(client, reference, keys);
      ctx.emit(result, () => {
        const head = `${result.repository}@${result.digest} (${kind(result.mediaType)}): ${result.signatures.length} signature${result.signatures.length === 1 ? '' : 's'} in ${result.signatureTag}`;
        if (result.signatures.length === 0) return head;
        const rows = [['#', 'signs', 'identity', 'key (as the layer says)', keys.length ? 'verified' : 'note']];
        for (const s of result.signatures) {
          const note = s.verifiedBy
            ? `by ${s.verifiedBy.slice(0, 16)}…${s.subject ? ` (${s.subject})` : ''}`
            : (s.problem ?? (keys.length ? '' : 'not checked (give --key)'));
          rows.push([
            String(s.layer),
            s.signedDigest ? `${s.signedDigest.slice(0, 19)}…` : '?',
            s.identity ?? '?',
            s.keyHint ? `${s.keyHint.slice(0, 16)}…` : (s.creator ?? '-'),
            note,
          ]);
        }
        return `${head}\n${table(rows)}`;
      });
    });
}

function kind(mediaType: string): string {
  return mediaType.includes('index') || mediaType.includes('list') ? 'a multi-platform index' : 'an image manifest';
}
