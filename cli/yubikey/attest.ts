/** `keyward yubikey attest`: verify that a slot's key was generated on the card, and what its attestation says. */
import type { Command } from 'commander';
import { toPem } from '../../src/x509/pem.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { outputOption, readCertificates, writeOutput } from '../io.js';
import { withDevice } from './device.js';

/** `keyward yubikey attest`. */
export function defineAttest(yubikey: Command): void {
  yubikey
    .command('attest')
    .description("prove a slot's key was generated on the YubiKey: verify the attestation chain and show what it says")
    .argument('<uri>', 'the key, e.g. yubikey:serial=12345678;slot=9c')
    .option(
      '--trust-root <file...>',
      "trust these attestation roots (PEM) besides Yubico's, e.g. a virtual YubiKey's; other certificates in the files serve as intermediates",
    )
    .option('--intermediates <file...>', "intermediate CAs (PEM) the chain may run through besides Yubico's; they grant no trust by themselves")
    .addOption(outputOption('--chain-out <file>', 'write the verified chain below the root: slot attestation, device (F9) and intermediate certificates (PEM)'))
    .addHelpText(
      'after',
      examples([
        'keyward yubikey attest yubikey:slot=9c',
        'keyward yubikey attest yubikey:slot=9c --trust-root vyk-root.pem --intermediates vyk-intermediates.pem --json',
        'keyward yubikey attest yubikey:slot=9c --chain-out chain.pem   # then: openssl verify -CAfile root.pem -untrusted chain.pem chain.pem',
      ]) +
        "\nYubico's roots and the intermediates of firmware 5.7.4 and later are built in; KEYWARD_ATTESTATION_ROOTS names more bundle files (colon-separated).\n",
    )
    .action(async (uri: string, options: { trustRoot?: string[]; intermediates?: string[]; chainOut?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { trustFromBundle } = await import('../../src/hsm/piv/attestation.js');
      const given = trustFromBundle((await Promise.all((options.trustRoot ?? []).map((file) => readCertificates(file, '--trust-root')))).flat());
      // `virtual intermediates` prints nothing for a card whose F9 chains straight to its root: an empty file is none.
      const intermediates = (
        await Promise.all((options.intermediates ?? []).map((file) => readCertificates(file, '--intermediates', { allowEmpty: true })))
      ).flat();
      await withDevice(
        ctx,
        async () => {
          const handle = await ctx.keystore().open(uri);
          const attestation = await handle.attest();
          if (options.chainOut) writeOutput(options.chainOut, attestation.chain.map((c) => toPem('CERTIFICATE', c)).join(''), false);
          const c = attestation.claims as Record<string, unknown> & { path: string[] };
          ctx.emit({ uri: handle.info.uri, verified: true, ...c }, () =>
            [
              `${handle.info.uri}: key generated on the device (attestation verified)`,
              `  chain: slot ${c.slot} → ${c.path.slice(1).join(' → ')}`,
              `  firmware ${c.firmware}, serial ${c.serial}, form factor ${c.formFactor}`,
              `  PIN policy ${c.pinPolicy}, touch policy ${c.touchPolicy}`,
            ].join('\n'),
          );
        },
        { attestationRoots: given.roots, attestationIntermediates: [...given.intermediates, ...intermediates] },
      );
    });
}
