/** `keyward ca revoke` and `crl`: revoking what this CA issued, and publishing it in a signed CRL. */
import { Option, type Command } from 'commander';
import { REVOCATION_REASONS, type RevocationReason } from '../../src/ca/ledger/ledger.js';
import { keywardError } from '../../src/errors.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { outputOption, writeOutput } from '../io.js';
import { wholeNumber } from '../options.js';
import { dirOption, ledgerOption, withKeystore, describeStep } from './shared.js';

/** `keyward ca revoke` and `keyward ca crl`. */
export function defineRevocation(ca: Command): void {
  ca.command('revoke')
    .description('revoke a certificate this CA issued (then publish a CRL: keyward ca crl)')
    .argument('<serial>', 'the serial number, hex (colons allowed)')
    .addOption(new Option('--reason <reason>', 'RFC 5280 reason').choices([...REVOCATION_REASONS]).default('unspecified'))
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText('after', examples(['keyward ca revoke 5c:1f:8e… --reason keyCompromise --dir ca/', 'keyward ca crl --dir ca/ --out crl.pem']))
    .action(async (serial: string, options: { reason: RevocationReason; dir: string; ledger?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { revokeCertificate } = await import('../../src/ca/steps/revocation.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const record = await revokeCertificate(new CaDirectory(options.dir, { ledger: options.ledger }), { serial, reason: options.reason });
      const [entry] = record.ledger;
      const crl = record.outputs.crl;
      ctx.emit(
        record,
        () =>
          `revoked ${entry!.serial} ("${entry!.subject}"): ${entry!.reason}; publish a new ${crl} CRL (keyward ca crl${crl === 'root' ? ' --issuer root' : ''})`,
      );
    });

  ca.command('crl')
    .description("sign a CRL: the intermediate's (online) or the root's (in a ceremony)")
    .addOption(new Option('--issuer <ca>', 'which CA signs').choices(['intermediate', 'root']).default('intermediate'))
    .option('--root-key <uri>', 'the root key (with --issuer root)')
    .option('--days <n>', 'until next update (default: 7 for the intermediate, 180 for the root)', (v) => wholeNumber(v, '--days'))
    .addOption(outputOption('-o, --out <file>', 'also write it here'))
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText(
      'after',
      examples([
        'keyward ca crl --dir ca/ --out crl.pem',
        'openssl crl -in crl.pem -noout -text',
        "keyward ca crl --issuer root --root-key 'pkcs11:token=offline-root;object=root' --dir ca/",
      ]),
    )
    .action(
      async (options: { issuer: 'intermediate' | 'root'; rootKey?: string; days?: number; out?: string; dir: string; ledger?: string }, command: Command) => {
        const ctx = await CliContext.of(command);
        const { signIntermediateCrl, signRootCrl } = await import('../../src/ca/steps/revocation.js');
        const { CaDirectory } = await import('../../src/ca/store.js');
        const { KeyUri } = await import('../../src/keystore/uri/origin.js');
        const directory = new CaDirectory(options.dir, { ledger: options.ledger });
        const record = await withKeystore(ctx, () => {
          if (options.issuer === 'intermediate') return signIntermediateCrl(directory, ctx.keystore(), { days: options.days });
          const rootKey = options.rootKey !== undefined ? KeyUri.of(options.rootKey) : directory.config().rootKey;
          if (!rootKey) throw keywardError('ROOT_KEY_REQUIRED', "the root's CRL needs the root key", { hint: 'give --root-key <uri>' });
          return signRootCrl(directory, ctx.keystore(), { rootKey, days: options.days });
        });
        if (options.out) writeOutput(options.out, record.crls[0]!.pem, false);
        ctx.emit(record, () => describeStep(record));
      },
    );
}
