/** `keyward ca rotate-root …`: replacing the root without downtime. */
import type { Command } from 'commander';
import type { KeyAlgorithm } from '../../src/crypto/algorithms.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { dirOption, generateOption, ledgerOption, rootYearsOption, withKeystore, describeStep } from './shared.js';

/** `keyward ca rotate-root …`. */
export function defineRotation(ca: Command): void {
  const rotate = ca.command('rotate-root').description('replace the root without downtime: cross-sign, move nodes, retire the old root');
  rotate
    .command('begin')
    .description('a ceremony with both root keys: new root, cross-signed by the old; both trusted until finish')
    .requiredOption('--new-key <uri>', "the new root's key")
    .addOption(generateOption())
    .option('--subject <dn>', "the new root's name (default: the old root's)")
    .addOption(rootYearsOption())
    .addOption(dirOption())
    .addOption(ledgerOption())
    .addHelpText(
      'after',
      examples([
        "keyward ca rotate-root begin --new-key 'pkcs11:token=offline-root;object=root-2027' --generate p384 --dir ca/",
        "keyward ca intermediate create --root-key 'pkcs11:token=offline-root;object=root-2027' --key 'pkcs11:token=ca-online;object=cluster-a-2027' --generate p256 --cluster-id <id> --dir ca/",
        '# … nodes renew under the new intermediate; then:',
        'keyward ca rotate-root finish --dir ca/',
      ]),
    )
    .action(async (options: { newKey: string; generate?: KeyAlgorithm; subject?: string; years: number; dir: string; ledger?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { beginRootRotation } = await import('../../src/ca/steps/rotation.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const { KeyUri } = await import('../../src/keystore/uri/origin.js');
      const directory = new CaDirectory(options.dir, { ledger: options.ledger });
      const record = await withKeystore(ctx, () => beginRootRotation(directory, ctx.keystore(), { ...options, newKey: KeyUri.of(options.newKey) }));
      ctx.emit(
        record,
        () =>
          `${describeStep(record)}\nThe new root is cross-signed by the old one; both are in roots.pem.\nNext: a new intermediate under the new root (keyward ca intermediate create --root-key '${directory.config().rootKey?.text}' …).`,
      );
    });
  rotate
    .command('finish')
    .description('retire the old root (once the intermediate is issued by the new one)')
    .addOption(dirOption())
    .addHelpText('after', examples(['keyward ca rotate-root finish --dir ca/']))
    .action(async (options: { dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { finishRootRotation } = await import('../../src/ca/steps/rotation.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const record = await finishRootRotation(new CaDirectory(options.dir));
      ctx.emit(record, () => `${describeStep(record)}\nold root retired: roots.pem holds only the new root`);
    });
}
