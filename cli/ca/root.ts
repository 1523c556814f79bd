/** `keyward ca root create`: the offline root, a self-signed CA certificate for a key in a device. */
import type { Command } from 'commander';
import type { KeyAlgorithm } from '../../src/crypto/algorithms.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { dirOption, generateOption, ledgerOption, rootYearsOption, withKeystore, describeStep } from './shared.js';

/** `keyward ca root …`. */
export function defineRoot(ca: Command): void {
  const root = ca.command('root').description('the offline root');
  root
    .command('create')
    .description('create the root: a self-signed CA certificate for a key in a device (20 years by default)')
    .requiredOption('--key <uri>', 'the root key, e.g. pkcs11:token=offline-root;object=root-2026')
    .addOption(generateOption())
    .option('--subject <dn>', "the root's name", 'CN=swarm-ca')
    .addOption(rootYearsOption())
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText(
      'after',
      examples([
        "keyward ca root create --key 'pkcs11:token=offline-root;object=root' --generate p384 --dir ca/",
        "keyward ca root create --key 'yubikey:serial=12345678;slot=9c' --subject 'CN=Example Root CA, O=Example' --dir ca/",
      ]) + '\nRun it on the offline machine; afterwards the root key is needed only in ceremonies.\n',
    )
    .action(async (options: { key: string; generate?: KeyAlgorithm; subject: string; years: number; dir: string; ledger?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { createRootCa } = await import('../../src/ca/steps/root.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const { KeyUri } = await import('../../src/keystore/uri/origin.js');
      const record = await withKeystore(ctx, () =>
        createRootCa(new CaDirectory(options.dir, { ledger: options.ledger }), ctx.keystore(), { ...options, key: KeyUri.of(options.key) }),
      );
      ctx.emit(record, () => describeStep(record));
    });
}
