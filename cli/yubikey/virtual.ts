/** `keyward yubikey virtual …`: an emulated YubiKey 5 for tests and demos, served to pcscd through vpcd. */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { keywardError } from '../../src/errors.js';
import { attestationShape, FIRMWARE_PROFILES, type FirmwareProfile } from '../../src/hsm/virtual-yubikey/firmware.js';
import { toPem } from '../../src/x509/pem.js';
import { confirmDestruction, yesOption } from '../confirm.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { outputOption, writeOutput } from '../io.js';
import { wholeNumber } from '../options.js';

/** `keyward yubikey virtual …`. */
export function defineVirtual(yubikey: Command): void {
  const virtual = yubikey.command('virtual').description('a virtual YubiKey 5 (PIV): for tests and demos, never for keys that matter');
  const stateOption = () => new Option('--state <file>', "the virtual YubiKey's state file").makeOptionMandatory();
  /** For the commands that write the state file (create, serve): checked before anything is made or served. */
  const writtenStateOption = (description: string) => outputOption('--state <file>', description).makeOptionMandatory();

  virtual
    .command('create')
    .description('make a factory-fresh virtual YubiKey with its own attestation CA')
    .addOption(writtenStateOption("the new virtual YubiKey's state file (written mode 600)"))
    .addOption(
      new Option(
        '--firmware <version>',
        'firmware to emulate (5.4: 3DES default management key; 5.7: AES-192, Ed25519, RSA 3072/4096; 5.7.4: attestation through two intermediate CAs, as YubiKeys sold today)',
      )
        .choices(Object.keys(FIRMWARE_PROFILES))
        .default('5.7.1'),
    )
    .option('--serial <n>', 'serial number (default: random)', (v) => wholeNumber(v, '--serial'))
    .addOption(outputOption('--root-out <file>', 'also write its attestation root (PEM), to give to verifiers'))
    .addOption(outputOption('--intermediates-out <file>', 'also write the intermediate CAs between its F9 certificate and that root (PEM; firmware 5.7.4)'))
    .option('--force', 'replace an existing state file')
    .addOption(yesOption())
    .addHelpText(
      'after',
      examples([
        'keyward yubikey virtual create --state vyk.json --root-out vyk-root.pem',
        'keyward yubikey virtual create --state new.json --firmware 5.7.4 --root-out root.pem --intermediates-out intermediates.pem',
        'keyward yubikey virtual create --state old.json --firmware 5.4.3 --serial 12345678',
      ]) + "\nThe state file holds the emulated card's private keys in the clear (mode 600). It is a test device.\n",
    )
    .action(
      async (
        options: { state: string; firmware: FirmwareProfile; serial?: number; rootOut?: string; intermediatesOut?: string; force?: boolean; yes?: boolean },
        command: Command,
      ) => {
        const ctx = await CliContext.of(command);
        const { VirtualYubiKey } = await import('../../src/hsm/virtual-yubikey/card.js');
        const replacing = existsSync(options.state);
        if (replacing && !options.force) {
          throw keywardError('VIRTUAL_STATE_EXISTS', `${options.state} already holds a virtual YubiKey`, {
            hint: 'pass --force to replace it (its keys are lost)',
          });
        }
        if (options.intermediatesOut && attestationShape(FIRMWARE_PROFILES[options.firmware]) === 'direct') {
          throw keywardError(
            'NO_ATTESTATION_INTERMEDIATES',
            `firmware ${options.firmware} attests straight under its root: there are no intermediates to write`,
            {
              hint: 'drop --intermediates-out, or emulate --firmware 5.7.4',
            },
          );
        }
        if (replacing) {
          await confirmDestruction(ctx, options.yes, {
            question: `Replace the virtual YubiKey in ${options.state}? Its keys are lost.`,
            action: 'replace a virtual YubiKey',
          });
        }
        const card = await VirtualYubiKey.create({ statePath: options.state, firmware: options.firmware, serial: options.serial });
        const root = toPem('CERTIFICATE', card.attestationRoot);
        const intermediates = card.attestationIntermediates.map((c) => toPem('CERTIFICATE', c));
        if (options.rootOut) writeOutput(options.rootOut, root, false);
        if (options.intermediatesOut) writeOutput(options.intermediatesOut, intermediates.join(''), false);
        ctx.emit(
          { serial: card.serial, firmware: card.firmware.join('.'), state: options.state, attestationRoot: root, attestationIntermediates: intermediates },
          () =>
            `virtual YubiKey ${card.serial} (firmware ${card.firmware.join('.')}) in ${options.state}` +
            (options.rootOut ? `\nattestation root written to ${options.rootOut}` : '') +
            (options.intermediatesOut ? `\n${intermediates.length} attestation intermediates written to ${options.intermediatesOut}` : ''),
        );
      },
    );

  virtual
    .command('serve')
    .description('plug the virtual YubiKey into pcscd through vsmartcard-vpcd (runs until stopped)')
    .addOption(writtenStateOption("the virtual YubiKey's state file (kept up to date as the card changes)"))
    .option('--host <host>', 'where vpcd listens', '127.0.0.1')
    .option('--port <port>', "vpcd's port (35963 is the first reader of a stock vsmartcard-vpcd)", (v) => wholeNumber(v, '--port'), 35963)
    .addOption(
      new Option('--touch <mode>', 'auto: touched after --touch-delay; manual: wait for keyward yubikey virtual touch')
        .choices(['auto', 'manual'])
        .default('auto'),
    )
    .option('--touch-delay <ms>', 'delay before an automatic touch', (v) => wholeNumber(v, '--touch-delay'), 300)
    .option('--touch-timeout <seconds>', 'how long the card waits for a touch before 6982, like a YubiKey', (v) => wholeNumber(v, '--touch-timeout'), 15)
    .option('--log-apdus', 'print every APDU on stderr (data of PIN, PUK and key commands redacted)')
    .addHelpText(
      'after',
      examples([
        'keyward yubikey virtual serve --state vyk.json &',
        'ykman --reader "Virtual PCD 00 00" piv info',
        'keyward yubikey virtual serve --state vyk.json --touch manual   # then: keyward yubikey virtual touch --state vyk.json',
      ]),
    )
    .action(
      async (options: {
        state: string;
        host: string;
        port: number;
        touch: 'auto' | 'manual';
        touchDelay: number;
        touchTimeout: number;
        logApdus?: boolean;
      }) => {
        const { describeApdu } = await import('../../src/hsm/virtual-yubikey/apdu-log.js');
        const { serveVirtualYubiKey } = await import('../../src/hsm/virtual-yubikey/serve.js');
        const served = serveVirtualYubiKey({
          statePath: options.state,
          host: options.host,
          port: options.port,
          touch: options.touch === 'auto' ? { kind: 'auto', delayMs: options.touchDelay } : { kind: 'manual' },
          touchTimeoutMs: options.touchTimeout * 1000,
          onApdu: options.logApdus ? (c, r) => process.stderr.write(`${describeApdu(c, r)}\n`) : undefined,
          onEvent: (event) => process.stderr.write(`virtual YubiKey: ${event}\n`),
        });
        process.stderr.write(
          `serving virtual YubiKey ${served.card.serial} (firmware ${served.card.firmware.join('.')}) to vpcd at ${options.host}:${options.port}; ` +
            `touch: ${options.touch === 'auto' ? `automatic after ${options.touchDelay} ms` : `keyward yubikey virtual touch --state ${options.state}`}\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => void served.stop().then(resolve);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      },
    );

  virtual
    .command('touch')
    .description('touch a served virtual YubiKey (for --touch manual)')
    .addOption(stateOption())
    .addHelpText('after', examples(['keyward yubikey virtual touch --state vyk.json']))
    .action(async (options: { state: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { controlRequest, controlSocketPath } = await import('../../src/hsm/virtual-yubikey/control.js');
      const answer = await controlRequest(controlSocketPath(options.state), 'touch');
      ctx.emit(answer, () => (answer.touched ? 'touched: the waiting operation goes on' : 'touched, but nothing was waiting for a touch'));
    });

  virtual
    .command('root')
    .description('print the attestation root of a virtual YubiKey (PEM), for verifiers to trust')
    .addOption(stateOption())
    .addHelpText(
      'after',
      examples([
        'keyward yubikey virtual root --state vyk.json > vyk-root.pem',
        'KEYWARD_ATTESTATION_ROOTS=vyk-root.pem keyward yubikey attest yubikey:slot=9c',
      ]),
    )
    .action(async (options: { state: string }) => {
      const { loadState } = await import('../../src/hsm/virtual-yubikey/state.js');
      process.stdout.write(toPem('CERTIFICATE', Buffer.from(loadState(options.state).attestation.rootCertificate, 'base64')));
    });

  virtual
    .command('intermediates')
    .description("print the intermediate CAs between a virtual YubiKey's F9 certificate and its root (PEM; none before firmware 5.7.4)")
    .addOption(stateOption())
    .addHelpText(
      'after',
      examples([
        'keyward yubikey virtual intermediates --state vyk.json > vyk-intermediates.pem',
        'keyward yubikey attest yubikey:slot=9c --trust-root vyk-root.pem --intermediates vyk-intermediates.pem',
      ]),
    )
    .action(async (options: { state: string }) => {
      const { loadState } = await import('../../src/hsm/virtual-yubikey/state.js');
      process.stdout.write((loadState(options.state).attestation.intermediates ?? []).map((c) => toPem('CERTIFICATE', Buffer.from(c, 'base64'))).join(''));
    });
}
