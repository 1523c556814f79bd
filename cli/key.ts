/** `keyward key …`: generate, list, read, use and delete keys named by URI. */
import { Option, type Command } from 'commander';
import { ALGORITHMS, KEY_ALGORITHMS, parseHashName, type KeyAlgorithm } from '../src/crypto/algorithms.js';
import type { KeyInfo, SignOptions } from '../src/keystore/backend.js';
import { redactUri } from '../src/keystore/uri/index.js';
import { toPem } from '../src/x509/pem.js';
import { confirmDestruction, yesOption } from './confirm.js';
import { CliContext } from './context.js';
import { examples } from './help.js';
import { wholeNumber } from './options.js';
import { checkStdout, outputOption, readInput, writeOutput } from './io.js';
import { withArticle } from '../src/words.js';

const TOKEN = "'pkcs11:token=demo;object=signer'";

export function describeKey(key: KeyInfo): string {
  const algorithm = key.algorithm ? ALGORITHMS[key.algorithm].title : 'unsupported type';
  const objects = (key.details.objects as string[] | undefined)?.join('+') ?? '';
  const protection = key.nonExtractable === undefined ? '' : key.nonExtractable ? 'non-extractable' : 'EXTRACTABLE';
  return `${key.label}  ${algorithm}  ${[objects, protection].filter(Boolean).join('  ')}\n  ${key.uri}`;
}

/** `keyward key`'s commands. */
export function defineKey(key: Command): void {
  key
    .command('generate')
    .description("generate a key pair inside the device; prints the new key's full URI")
    .argument('<uri>', "the token and the new key's label, e.g. pkcs11:token=demo;object=signer")
    .addOption(new Option('-a, --algorithm <name>', 'key algorithm').choices(KEY_ALGORITHMS).makeOptionMandatory())
    .addOption(new Option('--pin-policy <policy>', 'YubiKey: when the PIN is needed').choices(['never', 'once', 'always']))
    .addOption(new Option('--touch-policy <policy>', 'YubiKey: when a touch is needed (cached: 15 s)').choices(['never', 'always', 'cached']))
    .option('--overwrite', 'YubiKey: replace a key already in the slot (it is destroyed)')
    .addOption(yesOption())
    .addHelpText(
      'after',
      examples([
        `keyward key generate ${TOKEN} --algorithm p256`,
        `keyward key generate 'pkcs11:token=ca;object=root-2026?pin-source=file:/run/keyward/pin' -a p384`,
        `keyward key generate 'pkcs11:token=ca;object=rsa-signer?module-path=/usr/lib/softhsm/libsofthsm2.so' -a rsa3072`,
        `keyward key generate 'yubikey:serial=12345678;slot=9c' -a p256 --touch-policy always`,
      ]) +
        '\nThe private key is created inside the device and never leaves it (PKCS#11: sensitive, never\nextractable, signing only; YubiKey: generated on the card, attestable).\n',
    )
    .action(
      async (
        uri: string,
        options: {
          algorithm: KeyAlgorithm;
          pinPolicy?: 'never' | 'once' | 'always';
          touchPolicy?: 'never' | 'always' | 'cached';
          overwrite?: boolean;
          yes?: boolean;
        },
        command: Command,
      ) => {
        const ctx = await CliContext.of(command);
        if (options.overwrite) {
          await confirmDestruction(ctx, options.yes, {
            question: `Replace whatever key is in ${redactUri(uri)}? The old key is destroyed.`,
            action: 'replace a key',
            declined: 'nothing was generated',
          });
        }
        const handle = await ctx.progress(`Generating ${withArticle(`${ALGORITHMS[options.algorithm].title} key`)} in the device`, () =>
          ctx
            .keystore()
            .generate(uri, { algorithm: options.algorithm, pinPolicy: options.pinPolicy, touchPolicy: options.touchPolicy, overwrite: options.overwrite }),
        );
        ctx.emit(handle.info, () => handle.info.uri);
      },
    );

  key
    .command('list')
    .description('list the keys on one token, or on every token of the module')
    .argument('[uri]', 'a token or key URI (default: every token)', 'pkcs11:')
    .addHelpText('after', examples(['keyward key list', "keyward key list 'pkcs11:token=demo'", 'keyward key list --json | jq -r ".[].uri"']))
    .action(async (uri: string, _options: unknown, command: Command) => {
      const ctx = await CliContext.of(command);
      const keys = await ctx.keystore().list(uri);
      ctx.emit(keys, () => (keys.length ? keys.map(describeKey).join('\n') : 'no keys'));
    });

  key
    .command('public')
    .description("print a key's public key (SubjectPublicKeyInfo, PEM)")
    .argument('<uri>', 'the key')
    .addOption(outputOption('-o, --out <file>', 'write to a file instead of stdout'))
    .option('--der', 'DER instead of PEM')
    .addHelpText('after', examples([`keyward key public ${TOKEN} > signer.pub.pem`, `openssl pkey -pubin -in signer.pub.pem -text -noout`]))
    .action(async (uri: string, options: { out?: string; der?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      if (!ctx.json) checkStdout(options.out, Boolean(options.der));
      const handle = await ctx.keystore().open(uri);
      const spki = await handle.publicKey();
      if (ctx.json) {
        ctx.emit({ uri: handle.info.uri, algorithm: handle.info.algorithm, publicKey: toPem('PUBLIC KEY', spki) }, () => '');
        return;
      }
      writeOutput(options.out, options.der ? spki : toPem('PUBLIC KEY', spki), Boolean(options.der));
    });

  key
    .command('sign')
    .description('sign a file with a key in the device')
    .argument('<uri>', 'the key')
    .requiredOption('-i, --in <file>', 'the data to sign ("-" for stdin)')
    .addOption(outputOption('-o, --out <file>', 'where to write the signature (default: stdout)'))
    .option('--hash <name>', "sha256, sha384 or sha512 (default: the key's usual hash)")
    .addOption(new Option('--padding <scheme>', 'RSA padding').choices(['pkcs1', 'pss']))
    .option('--salt-length <bytes>', 'RSA-PSS salt length (default: the hash length)', (v) => wholeNumber(v, '--salt-length'))
    .addOption(new Option('--format <form>', 'ECDSA signature encoding').choices(['der', 'raw']).default('der'))
    .option('--base64', 'print the signature in base64')
    .addHelpText(
      'after',
      examples([
        `keyward key sign ${TOKEN} --in release.tar.gz --out release.sig`,
        'openssl dgst -sha256 -verify signer.pub.pem -signature release.sig release.tar.gz',
        `keyward key sign 'pkcs11:token=demo;object=rsa' --in f --padding pss --out f.sig`,
        'openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -verify rsa.pub.pem -signature f.sig f',
      ]) + '\nECDSA signatures are DER (as OpenSSL and X.509 expect) unless --format raw asks for r‖s.\n',
    )
    .action(
      async (
        uri: string,
        options: { in: string; out?: string; hash?: string; padding?: 'pkcs1' | 'pss'; saltLength?: number; format: 'der' | 'raw'; base64?: boolean },
        command: Command,
      ) => {
        const ctx = await CliContext.of(command);
        if (!ctx.json) checkStdout(options.out, !options.base64);
        const data = readInput(options.in, '--in');
        const handle = await ctx.keystore().open(uri);
        const signOptions: SignOptions = {
          hash: options.hash ? parseHashName(options.hash) : undefined,
          padding: options.padding,
          saltLength: options.saltLength,
          format: options.format,
        };
        const signature = await handle.sign(data, signOptions);
        if (ctx.json) {
          ctx.emit({ uri: handle.info.uri, algorithm: handle.info.algorithm, signature: Buffer.from(signature).toString('base64') }, () => '');
          return;
        }
        if (options.base64) writeOutput(options.out, `${Buffer.from(signature).toString('base64')}\n`, false);
        else writeOutput(options.out, signature, true);
      },
    );

  key
    .command('delete')
    .description('destroy a key (its private key, public key and certificate objects)')
    .argument('<uri>', 'the key')
    .addOption(yesOption())
    .addHelpText(
      'after',
      examples([`keyward key delete ${TOKEN}`, `keyward key delete 'pkcs11:token=demo;id=%01%02' --yes`]) +
        '\nThere is no undo: a key deleted from hardware is gone.\n',
    )
    .action(async (uri: string, options: { yes?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      const keystore = ctx.keystore();
      if (!options.yes) {
        // Named when the listing finds it; asked about all the same when it does not (delete() then
        // says precisely why it cannot, or finds what a listing filtered out).
        const matches = await keystore.list(uri);
        const what = matches.length === 1 ? `key "${matches[0]!.label}" on ${matches[0]!.device}` : `the key ${redactUri(uri)} names`;
        await confirmDestruction(ctx, options.yes, {
          question: `Destroy ${what}? This cannot be undone.`,
          action: 'delete a key',
          declined: 'nothing was deleted',
        });
      }
      const deleted = await keystore.delete(uri);
      ctx.emit(deleted, () => `deleted ${deleted.label} (${deleted.uri})`);
    });
}
