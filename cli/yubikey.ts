/** `keyward yubikey …`: YubiKey PIV devices (list, info, PINs, management key, reset, attestation) and the virtual YubiKey. */
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ALGORITHMS } from '../src/crypto/algorithms.js';
import { ConflictError, UsageError } from '../src/errors.js';
import { parseManagementKeyHex } from '../src/hsm/piv/management-key.js';
import { MANAGEMENT_KEY_ALGORITHMS, type ManagementKeyAlgorithm } from '../src/hsm/piv/spec.js';
import { attestationShape, FIRMWARE_PROFILES, type FirmwareProfile } from '../src/hsm/virtual-yubikey/firmware.js';
import type { YubiKeyBackend } from '../src/keystore/backends/yubikey.js';
import type { KeystoreOptions } from '../src/keystore/registry.js';
import { obtainPin } from '../src/keystore/pin.js';
import { parseYubiKeyUri } from '../src/keystore/uri.js';
import { fromPemOrDer, pemBlocks, toPem } from '../src/x509/pem.js';
import { confirmDestruction, yesOption } from './confirm.js';
import { CliContext, table } from './context.js';
import { examples } from './help.js';
import { readInput, writeOutput } from './io.js';
import { parsePositiveInt } from './key.js';
import { withSecrets } from '../src/secret.js';
import { existingSecret, newSecret } from './secrets.js';

const PIV_PIN_BOUNDS = { min: 6, max: 8 };
const ANY = 'yubikey:';

async function backend(ctx: CliContext): Promise<YubiKeyBackend> {
  const { YubiKeyBackend } = await import('../src/keystore/backends/yubikey.js');
  const b = await ctx.keystore().backend(ANY);
  if (!(b instanceof YubiKeyBackend)) throw new Error('the yubikey backend is not the built-in one');
  return b;
}

/** Runs a device command and always releases the card. */
async function withDevice<T>(ctx: CliContext, work: (b: YubiKeyBackend) => Promise<T>, options: Partial<KeystoreOptions> = {}): Promise<T> {
  ctx.keystore(options);
  try {
    return await work(await backend(ctx));
  } finally {
    await ctx.keystore().close();
  }
}

function currentPin(ctx: CliContext, uri: string, what = 'current PIN') {
  const parsed = parseYubiKeyUri(uri);
  return obtainPin({ what, pinSource: parsed.pinSource, pinValue: parsed.pinValue, envVar: 'KEYWARD_PIN' }, ctx.interaction, process.env);
}

/** The certificates in a file: every block of a PEM bundle, or one DER certificate; none in an empty file. */
function certificatesIn(file: string, what: string): Uint8Array[] {
  const data = readInput(file, what);
  const blocks = pemBlocks(data, 'CERTIFICATE');
  if (blocks.length) return blocks;
  // `virtual intermediates` prints nothing for a card whose F9 chains straight to its root.
  return data.toString('latin1').trim() ? [fromPemOrDer(data, 'CERTIFICATE')] : [];
}

function virtualCommand(): Command {
  const virtual = new Command('virtual').description('a virtual YubiKey 5 (PIV): for tests and demos, never for keys that matter');
  const stateOption = () => new Option('--state <file>', 'the virtual YubiKey\'s state file').makeOptionMandatory();

  virtual
    .command('create')
    .description('make a factory-fresh virtual YubiKey with its own attestation CA')
    .addOption(stateOption())
    .addOption(
      new Option('--firmware <version>', 'firmware to emulate (5.4: 3DES default management key; 5.7: AES-192, Ed25519, RSA 3072/4096; 5.7.4: attestation through two intermediate CAs, as YubiKeys sold today)')
        .choices(Object.keys(FIRMWARE_PROFILES))
        .default('5.7.1'),
    )
    .option('--serial <n>', 'serial number (default: random)', (v) => parsePositiveInt(v, '--serial'))
    .option('--root-out <file>', 'also write its attestation root (PEM), to give to verifiers')
    .option('--intermediates-out <file>', 'also write the intermediate CAs between its F9 certificate and that root (PEM; firmware 5.7.4)')
    .option('--force', 'replace an existing state file')
    .addOption(yesOption())
    .addHelpText('after', examples([
      'keyward yubikey virtual create --state vyk.json --root-out vyk-root.pem',
      'keyward yubikey virtual create --state new.json --firmware 5.7.4 --root-out root.pem --intermediates-out intermediates.pem',
      'keyward yubikey virtual create --state old.json --firmware 5.4.3 --serial 12345678',
    ]) + '\nThe state file holds the emulated card\'s private keys in the clear (mode 600). It is a test device.\n')
    .action(async (options: { state: string; firmware: FirmwareProfile; serial?: number; rootOut?: string; intermediatesOut?: string; force?: boolean; yes?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { VirtualYubiKey } = await import('../src/hsm/virtual-yubikey/card.js');
      const replacing = existsSync(options.state);
      if (replacing && !options.force) {
        throw new ConflictError('VIRTUAL_STATE_EXISTS', `${options.state} already holds a virtual YubiKey`, { hint: 'pass --force to replace it (its keys are lost)' });
      }
      if (options.intermediatesOut && attestationShape(FIRMWARE_PROFILES[options.firmware]) === 'direct') {
        throw new UsageError('NO_ATTESTATION_INTERMEDIATES', `firmware ${options.firmware} attests straight under its root: there are no intermediates to write`, {
          hint: 'drop --intermediates-out, or emulate --firmware 5.7.4',
        });
      }
      if (replacing) {
        await confirmDestruction(ctx, options.yes, { question: `Replace the virtual YubiKey in ${options.state}? Its keys are lost.`, action: 'replace a virtual YubiKey' });
      }
      const card = await VirtualYubiKey.create({ statePath: options.state, firmware: options.firmware, serial: options.serial });
      const root = toPem('CERTIFICATE', card.attestationRoot);
      const intermediates = card.attestationIntermediates.map((c) => toPem('CERTIFICATE', c));
      if (options.rootOut) writeOutput(options.rootOut, root, false);
      if (options.intermediatesOut) writeOutput(options.intermediatesOut, intermediates.join(''), false);
      ctx.emit({ serial: card.serial, firmware: card.firmware.join('.'), state: options.state, attestationRoot: root, attestationIntermediates: intermediates }, () =>
        `virtual YubiKey ${card.serial} (firmware ${card.firmware.join('.')}) in ${options.state}` +
          (options.rootOut ? `\nattestation root written to ${options.rootOut}` : '') +
          (options.intermediatesOut ? `\n${intermediates.length} attestation intermediates written to ${options.intermediatesOut}` : ''),
      );
    });

  virtual
    .command('serve')
    .description('plug the virtual YubiKey into pcscd through vsmartcard-vpcd (runs until stopped)')
    .addOption(stateOption())
    .option('--host <host>', 'where vpcd listens', '127.0.0.1')
    .option('--port <port>', 'vpcd\'s port (35963 is the first reader of a stock vsmartcard-vpcd)', (v) => parsePositiveInt(v, '--port'), 35963)
    .addOption(new Option('--touch <mode>', 'auto: touched after --touch-delay; manual: wait for keyward yubikey virtual touch').choices(['auto', 'manual']).default('auto'))
    .option('--touch-delay <ms>', 'delay before an automatic touch', (v) => parsePositiveInt(v, '--touch-delay'), 300)
    .option('--touch-timeout <seconds>', 'how long the card waits for a touch before 6982, like a YubiKey', (v) => parsePositiveInt(v, '--touch-timeout'), 15)
    .option('--log-apdus', 'print every APDU on stderr (data of PIN, PUK and key commands redacted)')
    .addHelpText('after', examples([
      'keyward yubikey virtual serve --state vyk.json &',
      'ykman --reader "Virtual PCD 00 00" piv info',
      'keyward yubikey virtual serve --state vyk.json --touch manual   # then: keyward yubikey virtual touch --state vyk.json',
    ]))
    .action(async (options: { state: string; host: string; port: number; touch: 'auto' | 'manual'; touchDelay: number; touchTimeout: number; logApdus?: boolean }) => {
      const { describeApdu } = await import('../src/hsm/virtual-yubikey/apdu-log.js');
      const { serveVirtualYubiKey } = await import('../src/hsm/virtual-yubikey/serve.js');
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
    });

  virtual
    .command('touch')
    .description('touch a served virtual YubiKey (for --touch manual)')
    .addOption(stateOption())
    .addHelpText('after', examples(['keyward yubikey virtual touch --state vyk.json']))
    .action(async (options: { state: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { controlRequest, controlSocketPath } = await import('../src/hsm/virtual-yubikey/control.js');
      const answer = await controlRequest(controlSocketPath(options.state), 'touch');
      ctx.emit(answer, () => (answer.touched ? 'touched: the waiting operation goes on' : 'touched, but nothing was waiting for a touch'));
    });

  virtual
    .command('root')
    .description('print the attestation root of a virtual YubiKey (PEM), for verifiers to trust')
    .addOption(stateOption())
    .addHelpText('after', examples(['keyward yubikey virtual root --state vyk.json > vyk-root.pem', 'KEYWARD_ATTESTATION_ROOTS=vyk-root.pem keyward yubikey attest yubikey:slot=9c']))
    .action(async (options: { state: string }) => {
      const { loadState } = await import('../src/hsm/virtual-yubikey/state.js');
      process.stdout.write(toPem('CERTIFICATE', Buffer.from(loadState(options.state).attestation.rootCertificate, 'base64')));
    });

  virtual
    .command('intermediates')
    .description('print the intermediate CAs between a virtual YubiKey\'s F9 certificate and its root (PEM; none before firmware 5.7.4)')
    .addOption(stateOption())
    .addHelpText('after', examples([
      'keyward yubikey virtual intermediates --state vyk.json > vyk-intermediates.pem',
      'keyward yubikey attest yubikey:slot=9c --trust-root vyk-root.pem --intermediates vyk-intermediates.pem',
    ]))
    .action(async (options: { state: string }) => {
      const { loadState } = await import('../src/hsm/virtual-yubikey/state.js');
      process.stdout.write((loadState(options.state).attestation.intermediates ?? []).map((c) => toPem('CERTIFICATE', Buffer.from(c, 'base64'))).join(''));
    });

  return virtual;
}

/** `keyward yubikey`'s commands. */
export function defineYubikey(yubikey: Command): void {
  yubikey
    .command('list')
    .description('list the YubiKeys PC/SC can reach')
    .addHelpText('after', examples(['keyward yubikey list', 'keyward yubikey list --json']))
    .action(async (_options: unknown, command: Command) => {
      const ctx = await CliContext.of(command);
      const devices = await withDevice(ctx, (b) => b.devices());
      ctx.emit(devices, () =>
        devices.length ? table([['URI', 'FIRMWARE', 'READER'], ...devices.map((d) => [d.uri, d.firmware, d.reader])]) : 'no YubiKey found (keyward doctor explains what the machine sees)',
      );
    });

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
            ? report.keys.map((k) => `  ${k.label}: ${k.algorithm ? ALGORITHMS[k.algorithm].title : 'unknown key'}, PIN ${k.details.pinPolicy ?? '?'}, touch ${k.details.touchPolicy ?? '?'}${k.details.origin ? `, ${k.details.origin}` : ''}${k.hasCertificate ? ', certificate' : ''}\n    ${k.uri}`)
            : ['  no keys']),
        ].join('\n'),
      );
    });

  const pin = yubikey.command('pin').description('the PIV PIN: change, unblock with the PUK, set retries');
  pin
    .command('change')
    .description('change the PIN (needs the current one)')
    .argument('[uri]', 'the YubiKey; pin-source= gives the current PIN', ANY)
    .option('--new-pin-source <file>', 'the new PIN from a file (else KEYWARD_NEW_PIN, else a prompt)')
    .addHelpText('after', examples(['keyward yubikey pin change', "keyward yubikey pin change 'yubikey:serial=12345678?pin-source=file:old.pin' --new-pin-source file:new.pin"]))
    .action(async (uri: string, options: { newPinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri);
        const current = await currentPin(ctx, uri);
        const next = await newSecret(ctx, 'PIN', { file: options.newPinSource, flag: '--new-pin-source', envVar: 'KEYWARD_NEW_PIN' }, PIV_PIN_BOUNDS);
        await withSecrets([current, next], () => session.changePin(current, next));
        ctx.emit({ changed: 'PIN', device: session.device }, () => `PIN of ${session.device} changed`);
      });
    });
  pin
    .command('unblock')
    .description('set a new PIN with the PUK (also unblocks a blocked PIN)')
    .argument('[uri]', 'the YubiKey', ANY)
    .option('--puk-source <file>', 'the PUK from a file (else KEYWARD_PUK, else a prompt)')
    .option('--new-pin-source <file>', 'the new PIN from a file (else KEYWARD_NEW_PIN, else a prompt)')
    .addHelpText('after', examples(['keyward yubikey pin unblock', 'KEYWARD_PUK=… KEYWARD_NEW_PIN=… keyward yubikey pin unblock yubikey:serial=12345678']))
    .action(async (uri: string, options: { pukSource?: string; newPinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri);
        const puk = await existingSecret(ctx, `PUK of ${session.device}`, { file: options.pukSource, envVar: 'KEYWARD_PUK' });
        const next = await newSecret(ctx, 'PIN', { file: options.newPinSource, flag: '--new-pin-source', envVar: 'KEYWARD_NEW_PIN' }, PIV_PIN_BOUNDS);
        await withSecrets([puk, next], () => session.unblockPin(puk, next));
        ctx.emit({ unblocked: true, device: session.device }, () => `new PIN set on ${session.device}`);
      });
    });
  pin
    .command('retries')
    .description('set how many tries the PIN and PUK get; both are reset to their factory values')
    .argument('[uri]', 'the YubiKey', ANY)
    .requiredOption('--pin-tries <n>', 'PIN tries (1–255)', (v) => parsePositiveInt(v, '--pin-tries'))
    .requiredOption('--puk-tries <n>', 'PUK tries (1–255)', (v) => parsePositiveInt(v, '--puk-tries'))
    .addOption(yesOption())
    .addHelpText('after', examples(['keyward yubikey pin retries --pin-tries 5 --puk-tries 3']) + '\nThe card resets PIN and PUK to 123456 / 12345678: change them right after.\n')
    .action(async (uri: string, options: { pinTries: number; pukTries: number; yes?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri);
        await confirmDestruction(ctx, options.yes, {
          question: `Set ${options.pinTries} PIN and ${options.pukTries} PUK tries on ${session.device}? PIN and PUK go back to their factory values.`,
          action: 'reset the PIN and PUK',
        });
        await session.setPinRetries(options.pinTries, options.pukTries);
        ctx.interaction.warn(`the PIN and PUK of ${session.device} are now the factory defaults: change them (keyward yubikey pin change, puk change)`);
        ctx.emit({ pinTries: options.pinTries, pukTries: options.pukTries, device: session.device }, () => `PIN tries ${options.pinTries}, PUK tries ${options.pukTries}`);
      });
    });

  yubikey
    .command('puk')
    .description('the PUK')
    .command('change')
    .description('change the PUK (needs the current one)')
    .argument('[uri]', 'the YubiKey', ANY)
    .option('--puk-source <file>', 'the current PUK from a file (else KEYWARD_PUK, else a prompt)')
    .option('--new-puk-source <file>', 'the new PUK from a file (else KEYWARD_NEW_PUK, else a prompt)')
    .addHelpText('after', examples(['keyward yubikey puk change']))
    .action(async (uri: string, options: { pukSource?: string; newPukSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri);
        const current = await existingSecret(ctx, `current PUK of ${session.device}`, { file: options.pukSource, envVar: 'KEYWARD_PUK' });
        const next = await newSecret(ctx, 'PUK', { file: options.newPukSource, flag: '--new-puk-source', envVar: 'KEYWARD_NEW_PUK' }, PIV_PIN_BOUNDS);
        await withSecrets([current, next], () => session.changePuk(current, next));
        ctx.emit({ changed: 'PUK', device: session.device }, () => `PUK of ${session.device} changed`);
      });
    });

  yubikey
    .command('management-key')
    .description('the PIV management key')
    .command('set')
    .description('set a new management key (authenticates with the current one)')
    .argument('[uri]', 'the YubiKey; management-key-source= gives the current key', ANY)
    .addOption(new Option('--algorithm <name>', 'the new key\'s algorithm').choices(Object.keys(MANAGEMENT_KEY_ALGORITHMS)).default('aes192'))
    .option('--touch', 'require a touch for every use of the management key')
    .option('--new-key-source <file>', 'the new key in hex from a file (else KEYWARD_NEW_MANAGEMENT_KEY, else a prompt)')
    .addHelpText('after', examples([
      'openssl rand -hex 24 > mgmt.key && chmod 600 mgmt.key',
      'keyward yubikey management-key set --new-key-source file:mgmt.key',
      "keyward yubikey management-key set 'yubikey:serial=12345678?management-key-source=file:old.key' --algorithm aes256 --new-key-source file:new.key --touch",
    ]))
    .action(async (uri: string, options: { algorithm: ManagementKeyAlgorithm; touch?: boolean; newKeySource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri);
        const length = MANAGEMENT_KEY_ALGORITHMS[options.algorithm].keyLength * 2;
        const secret = await newSecret(ctx, `${options.algorithm.toUpperCase()} management key (hex)`, { file: options.newKeySource, flag: '--new-key-source', envVar: 'KEYWARD_NEW_MANAGEMENT_KEY' }, { min: length, max: length });
        await withSecrets([secret], () => session.setManagementKey(parseManagementKeyHex(secret.revealString()), options.algorithm, { requireTouch: options.touch }));
        ctx.emit({ algorithm: options.algorithm, touch: Boolean(options.touch), device: session.device }, () => `management key of ${session.device} set (${options.algorithm.toUpperCase()}${options.touch ? ', touch required' : ''})`);
      });
    });

  yubikey
    .command('reset')
    .description('reset the PIV application: every PIV key and certificate is destroyed, PIN/PUK/management key back to factory')
    .argument('[uri]', 'the YubiKey', ANY)
    .addOption(yesOption())
    .addHelpText('after', examples(['keyward yubikey reset yubikey:serial=12345678']) + '\nThe card allows a reset only with PIN and PUK blocked; Keyward blocks them for you. There is no undo.\n')
    .action(async (uri: string, options: { yes?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri);
        await confirmDestruction(ctx, options.yes, {
          question: `Reset the PIV application of ${session.device}? Every PIV key and certificate on it is destroyed.`,
          action: 'reset the PIV application',
        });
        await session.resetToFactory();
        ctx.emit({ reset: true, device: session.device }, () => `${session.device} reset: PIN 123456, PUK 12345678, factory management key. Change them now.`);
      });
    });

  yubikey
    .command('attest')
    .description('prove a slot\'s key was generated on the YubiKey: verify the attestation chain and show what it says')
    .argument('<uri>', 'the key, e.g. yubikey:serial=12345678;slot=9c')
    .option('--trust-root <file...>', 'trust these attestation roots (PEM) besides Yubico\'s, e.g. a virtual YubiKey\'s; other certificates in the files serve as intermediates')
    .option('--intermediates <file...>', 'intermediate CAs (PEM) the chain may run through besides Yubico\'s; they grant no trust by themselves')
    .option('--chain-out <file>', 'write the verified chain below the root: slot attestation, device (F9) and intermediate certificates (PEM)')
    .addHelpText('after', examples([
      'keyward yubikey attest yubikey:slot=9c',
      'keyward yubikey attest yubikey:slot=9c --trust-root vyk-root.pem --intermediates vyk-intermediates.pem --json',
      'keyward yubikey attest yubikey:slot=9c --chain-out chain.pem   # then: openssl verify -CAfile root.pem -untrusted chain.pem chain.pem',
    ]) + '\nYubico\'s roots and the intermediates of firmware 5.7.4 and later are built in; KEYWARD_ATTESTATION_ROOTS names more bundle files (colon-separated).\n')
    .action(async (uri: string, options: { trustRoot?: string[]; intermediates?: string[]; chainOut?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { trustFromBundle } = await import('../src/hsm/piv/attestation.js');
      const given = trustFromBundle((options.trustRoot ?? []).flatMap((file) => certificatesIn(file, 'trusted attestation roots')));
      const intermediates = (options.intermediates ?? []).flatMap((file) => certificatesIn(file, 'attestation intermediates'));
      await withDevice(ctx, async () => {
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
      }, { attestationRoots: given.roots, attestationIntermediates: [...given.intermediates, ...intermediates] });
    });

  yubikey.addCommand(virtualCommand());
}
