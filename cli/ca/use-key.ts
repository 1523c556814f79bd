/** `keyward ca use-key`: point the CA at another copy of its root's (or intermediate's) key, after a restore ceremony. */
import type { Command } from 'commander';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { describeStep, dirOption, withKeystore } from './shared.js';

export function defineUseKey(ca: Command): void {
  ca.command('use-key')
    .description("name another copy of the CA's root or intermediate key in ca.json (after a restore); it must be the key its certificate certifies")
    .argument('<uri>', 'the key, e.g. pkcs11:token=restored-root;object=root-2026')
    .addOption(dirOption())
    .addHelpText(
      'after',
      examples(["keyward ca use-key 'pkcs11:token=root-2026-restored;object=root-2026' --dir offline-ca/"]) +
        '\nA restore ceremony (docs/ceremonies/restore.yaml) does this as its last step, on record.\n',
    )
    .action(async (uri: string, options: { dir: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { useCaKey } = await import('../../src/ca/steps/use-key.js');
      const { CaDirectory } = await import('../../src/ca/store.js');
      const { KeyUri } = await import('../../src/keystore/uri/origin.js');
      const record = await withKeystore(ctx, () => useCaKey(new CaDirectory(options.dir), ctx.keystore(), { key: KeyUri.of(uri) }));
      ctx.emit(record, () => describeStep(record));
    });
}
