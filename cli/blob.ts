/**
 * `keyward blob …`: files signed into Sigstore bundles (v0.3, a message signature, the public key
 * named by a hint, no transparency log), made with a key in hardware and verified with its public
 * key, by Keyward or by the sigstore libraries. Heavy modules load when an action runs.
 */
import type { Command } from 'commander';
import { examples } from './help.js';
import { outputOption } from './io.js';

const BUNDLE_HELP = `
The bundle is a Sigstore bundle (application/vnd.dev.sigstore.bundle.v0.3+json) holding the file's
SHA-256 and the signature (ECDSA in DER, RSA PKCS#1 v1.5 or Ed25519, over SHA-256), with the key
named only by a hint (the hex SHA-256 of its public key): no certificate, no transparency log
entry. Whoever verifies holds the public key (keyward key public URI > signer.pub.pem). The
sigstore libraries verify it with that key when told to expect no log entry and no timestamp
(sigstore-js: @sigstore/verify's Verifier with tlogThreshold, ctlogThreshold and timestampThreshold 0;
its sigstore.verify cannot be told timestampThreshold 0, and it cannot check Ed25519 message signatures;
cosign: verify-blob --key K --bundle B --new-bundle-format --trusted-root T --insecure-ignore-tlog=true,
T a trusted root with empty tlogs, certificateAuthorities, ctlogs and timestampAuthorities).
`;

/** `keyward blob`'s commands. */
export function defineBlob(blob: Command): void {
  blob.addHelpText(
    'after',
    examples([
      "keyward blob sign app.tar.gz --key 'yubikey:slot=9c' --bundle app.tar.gz.sigstore.json",
      'keyward blob verify app.tar.gz --bundle app.tar.gz.sigstore.json --key signer.pub.pem',
    ]),
  );

  blob
    .command('sign')
    .description('sign a file with a key in hardware into a Sigstore bundle')
    .argument('<file>', 'the file to sign ("-" for standard input)')
    .requiredOption('--key <uri>', 'the key to sign with (a YubiKey: one touch)')
    .addOption(outputOption('--bundle <file>', 'where to write the bundle (JSON)').makeOptionMandatory())
    .addHelpText(
      'after',
      examples(["keyward blob sign app.tar.gz --key 'yubikey:slot=9c' --bundle app.tar.gz.sigstore.json      # Touch your YubiKey…"]) + BUNDLE_HELP,
    )
    .action(async (file: string, options: { key: string; bundle: string }, command: Command) => {
      const { CliContext } = await import('./context.js');
      const { readInput, writeOutput } = await import('./io.js');
      const { makeBundle } = await import('../src/image/bundle.js');
      const { keyId, signOptions } = await import('../src/image/keys.js');
      const ctx = await CliContext.of(command);
      try {
        const data = readInput(file, '<file>');
        const handle = await ctx.keystore().open(options.key);
        const id = keyId(await handle.publicKey());
        const signature = await handle.sign(data, signOptions(handle.info.algorithm));
        const bundle = makeBundle(data, signature, id);
        writeOutput(options.bundle, `${JSON.stringify(bundle, null, 2)}\n`, false);
        ctx.emit(
          {
            file,
            bundle: options.bundle,
            sha256: Buffer.from(bundle.messageSignature.messageDigest.digest, 'base64').toString('hex'),
            keyId: id,
            signedBy: handle.info.uri,
          },
          () => `signed ${file} with ${handle.info.uri}; bundle in ${options.bundle}`,
        );
      } finally {
        await ctx.keystore().close();
      }
    });

  blob
    .command('verify')
    .description("verify a file against a Sigstore bundle with the signer's public key")
    .argument('<file>', 'the file ("-" for standard input)')
    .requiredOption('--bundle <file>', 'the Sigstore bundle')
    .requiredOption('--key <file>', 'the public key (PEM or DER), or a certificate chain (PEM: leaf … root)')
    .addHelpText(
      'after',
      examples(['keyward blob verify app.tar.gz --bundle app.tar.gz.sigstore.json --key signer.pub.pem']) +
        `\nExit codes: 0 verified; 6 another file (BUNDLE_DIGEST_MISMATCH) or another key (BUNDLE_SIGNATURE_INVALID);\n2 not a bundle. Transparency log entries in a bundle are not checked (and said so).\n` +
        BUNDLE_HELP,
    )
    .action(async (file: string, options: { bundle: string; key: string }, command: Command) => {
      const { CliContext } = await import('./context.js');
      const { parseInput, readInput } = await import('./io.js');
      const { verifyBundle } = await import('../src/image/bundle.js');
      const { readVerifierKey } = await import('../src/image/keys.js');
      const ctx = await CliContext.of(command);
      const key = await parseInput(options.key, '--key', (data) => readVerifierKey(data));
      const data = readInput(file, '<file>');
      const result = await parseInput(options.bundle, '--bundle', (bundle) => verifyBundle(data, bundle, key));
      ctx.emit({ file, ...result }, () =>
        [
          `verified ${file} (sha256 ${result.sha256}) signed by key ${result.keyId.slice(0, 16)}…${result.subject ? ` (${result.subject})` : ''}`,
          ...(result.tlogEntriesIgnored ? [`note: the bundle's ${result.tlogEntriesIgnored} transparency log entries were not checked`] : []),
        ].join('\n'),
      );
    });
}
