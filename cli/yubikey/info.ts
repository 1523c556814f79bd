/** `keyward yubikey list` and `info`: which YubiKeys are there, and what each holds and still has at factory values. */
import type { Command } from 'commander';
import { ALGORITHMS } from '../../src/crypto/algorithms.js';
import { CliContext, table } from '../context.js';
import { examples } from '../help.js';
import { ANY, withDevice } from './device.js';

/** `keyward yubikey list`. */
export function defineList(yubikey: Command): void {
  yubikey
    .command('list')
    .description('list the YubiKeys PC/SC can reach')
    .addHelpText('after', examples(['keyward yubikey list', 'keyward yubikey list --json']))
    .action(async (_options: unknown, command: Command) => {
      const ctx = await CliContext.of(command);
      const devices = await withDevice(ctx, (b) => b.devices());
      ctx.emit(devices, () =>
        devices.length
          ? table([['URI', 'FIRMWARE', 'PIN VARIABLE', 'READER'], ...devices.map((d) => [d.uri, d.firmware, d.pinVariable ?? '-', d.reader])])
          : 'no YubiKey found (keyward doctor explains what the machine sees)',
      );
    });
}

/** `keyward yubikey info`. */
export function defineInfo(yubikey: Command): void {
  yubikey
    .command('info')
    .description('firmware, serial, PIN and PUK tries, management key, keys in slots; warns about factory defaults')
    .argument('[uri]', 'the YubiKey, e.g. yubikey:serial=12345678', ANY)
    .addHelpText('after', examples(['keyward yubikey info', 'keyward yubikey info yubikey:serial=12345678 --json']))
    .action(async (uri: string, _options: unknown, command: Command) => {
      const ctx = await CliContext.of(command);
      const report = await withDevice(ctx, async (b) => {
        const session = await b.session(uri);
        // session() found exactly one YubiKey for the URI, so listing the URI lists that one's keys.
        const keys = await ctx.keystore().list(uri);
        return {
          device: session.device,
          serial: session.serial,
          firmware: session.version.join('.'),
          pin: await session.pinStatus(),
          puk: await session.pukStatus(),
          managementKey: await session.managementKeyInfo(),
          supports: session.supports,
          keys,
        };
      });
      ctx.emit(report, () =>
        [
          report.device,
          `  PIN: ${report.pin.retriesLeft ?? '?'}${report.pin.totalRetries ? `/${report.pin.totalRetries}` : ''} tries left${report.pin.isDefault ? '  (FACTORY DEFAULT)' : ''}`,
          `  PUK: ${report.puk.retriesLeft ?? '?'}${report.puk.totalRetries ? `/${report.puk.totalRetries}` : ''} tries left${report.puk.isDefault ? '  (FACTORY DEFAULT)' : ''}`,
          `  management key: ${report.managementKey.algorithm.toUpperCase()}${report.managementKey.requiresTouch ? ', touch required' : ''}${report.managementKey.isDefault ? '  (FACTORY DEFAULT)' : ''}`,
          `  algorithms: ${report.supports.algorithms.join(', ')}`,
          ...(report.keys.length
            ? report.keys.map(
                (k) =>
                  `  ${k.label}: ${k.algorithm ? ALGORITHMS[k.algorithm].title : 'unknown key'}, PIN ${k.details.pinPolicy ?? '?'}, touch ${k.details.touchPolicy ?? '?'}${k.details.origin ? `, ${k.details.origin}` : ''}${k.hasCertificate ? ', certificate' : ''}\n    ${k.uri}`,
              )
            : ['  no keys']),
        ].join('\n'),
      );
    });
}
