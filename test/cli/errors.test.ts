/** Errors from the binary: what failed, why, what to do; exit codes that mean something; no PIN shown. */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, exitCodeOf, type ErrorCode } from '../../src/error-codes.js';
import { CLI_PIN, cliToken } from '../harness/cli-token.js';
import { KEYWARD_BIN, keyward, PROJECT_ROOT, run } from '../harness/run.js';

test('a malformed URI: exit 2, the position and a caret under the fault', async (t) => {
  const token = await cliToken(t);
  const result = await token.keyward(['key', 'public', `pkcs11:token=${token.label};objct=k`]);
  t.is(result.code, 2);
  const lines = result.stderr.split('\n');
  t.regex(lines[0]!, /malformed PKCS#11 URI at position \d+: unknown attribute "objct"/);
  const caretColumn = lines[2]!.indexOf('^');
  t.is(lines[1]!.slice(caretColumn, caretColumn + 5), 'objct');
  t.regex(result.stderr, /hint: known path attributes: .*object/);
});

test('a wrong PIN: exit 4, the retry state, and the PIN appears nowhere', async (t) => {
  const token = await cliToken(t);
  const wrongPin = 'wrong-pin-774411';
  const result = await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=k`, '-a', 'p256'], {
    env: { ...token.env, KEYWARD_PIN: wrongPin },
  });
  t.is(result.code, 4);
  t.regex(result.stderr, new RegExp(`wrong user PIN for token "${token.label}"`));
  t.false(result.stderr.includes(wrongPin) || result.stdout.includes(wrongPin));
  // SoftHSM sets CKF_USER_PIN_COUNT_LOW after any wrong PIN: PKCS#11 defines it as "a wrong PIN since
  // the last successful login", which says nothing of how many tries remain. Nor does Keyward.
  t.regex(result.stderr, /: the token does not say how many attempts remain \(it reports a wrong PIN since the last successful login\)\n/);
  t.notRegex(result.stderr, /low/);
  const listed = await token.keyward(['token', 'list']);
  t.regex(listed.stdout, /user PIN: a wrong PIN was given since the last successful login/);
  t.notRegex(listed.stdout, /count-low/);
  t.like(JSON.parse((await token.keyward(['token', 'list', '--json'])).stdout)[0], { userPin: 'count-low' }, 'scripts still see the flag by its PKCS#11 name');
  t.deepEqual(JSON.parse((await token.keyward(['key', 'list', '--json'])).stdout), [], 'nothing was created');
  const json = await token.keyward(['--json', 'key', 'list'], { env: { ...token.env, KEYWARD_PIN: wrongPin } });
  t.is(json.code, 4);
  t.like(JSON.parse(json.stdout).error, { code: 'PIN_INCORRECT' });
});

test('no PIN and no terminal: exit 4 with the ways to provide one', async (t) => {
  const token = await cliToken(t);
  const env = { ...token.env };
  delete env.KEYWARD_PIN;
  const result = await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=k`, '-a', 'p256'], { env });
  t.is(result.code, 4);
  t.regex(result.stderr, /no terminal to ask/);
  t.regex(result.stderr, /pin-source=file:/);
});

test('a pin-value in the URI works but is warned about and never echoed', async (t) => {
  const token = await cliToken(t);
  const env = { ...token.env };
  delete env.KEYWARD_PIN;
  const result = await token.keyward(['key', 'list', `pkcs11:token=${token.label}?pin-value=${CLI_PIN}`], { env });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /warning: the URI carries pin-value/);
  t.false(result.stderr.includes(CLI_PIN));
});

test('a PIN in a URI, however spelt or placed, reaches neither stderr nor --json output', async (t) => {
  const token = await cliToken(t);
  const L = token.label;
  const pin = CLI_PIN;
  const cases: Array<[uri: string, exitCode: number]> = [
    // Malformed: the URI is shown with a caret.
    [`pkcs11:token=${L};pin-value=${pin}`, 2],
    [`pkcs11:token=${L}?PIN-VALUE=${pin}`, 2],
    [`pkcs11:token=${L}?pin%2Dvalue=${pin}`, 2],
    [`pkcs11:token=${L}?pin-valu=${pin}`, 2],
    [`pkcs11:token=${L}?pinvalue=${pin}`, 2],
    [`pkcs11:token=${L}?pin_value=${pin}`, 2],
    [`pkcs11:token=${L}?pin-value=${pin}%G`, 2],
    [`pkcs11:token=${L};type=private&pin-value=${pin}`, 2],
    [`yubikey:serial=1&pin-value=${pin}`, 2],
    [`pin-value=${pin}`, 2],
    // Well-formed, naming no token or no key: the URI is shown in the "not found" message.
    [`pkcs11:token=nope;object=k?pin-value=${pin}`, 3],
    [`pkcs11:token=${L};object=absent?pin-value=${pin}`, 3],
    [`pkcs11:token=${L};object=absent&pin-value=${pin}`, 3],
    [`pkcs11:token=${L};object=absent?x-PIN-VALUE=${pin}`, 3],
    [`pkcs11:token=nope;object=k&PIN-VALUE=${pin}`, 3],
  ];
  await token.keyward(['key', 'generate', `pkcs11:token=${L};object=present`, '-a', 'p256']);
  for (const [uri, exitCode] of cases) {
    for (const json of [false, true]) {
      const result = await token.keyward([...(json ? ['--json'] : []), 'key', 'public', uri]);
      t.is(result.code, exitCode, `${uri}: ${result.stderr}${result.stdout}`);
      t.false(result.stderr.includes(pin) || result.stdout.includes(pin), `${uri} --json=${json}:\n${result.stderr}${result.stdout}`);
      if (json) t.truthy(JSON.parse(result.stdout).error.message);
      else t.regex(result.stderr, exitCode === 2 ? /\*\*\*|malformed|not a key URI/ : /\*\*\*/);
    }
  }
});

test('a URI of thousands of attributes is refused with the length limit and its position', async (t) => {
  const attributes = Array.from({ length: 10_000 }, (_, i) => `x-${i.toString(36)}=v`).join(';');
  const result = await keyward(['key', 'public', `pkcs11:token=a;${attributes};object=k`]);
  t.is(result.code, 2);
  t.regex(result.stderr, /malformed PKCS#11 URI at position 4097: the URI is \d+ characters long; the limit is 4096/);
  t.true(result.stderr.length < 2000, 'the URI is shown as an excerpt around the fault');
});

test('a PIN file: read through a FIFO or process substitution, refused past 1 KiB (even /dev/zero)', async (t) => {
  const token = await cliToken(t);
  const env = { ...token.env };
  delete env.KEYWARD_PIN;
  const list = (pinSource: string) => token.keyward(['key', 'list', `pkcs11:token=${token.label}?pin-source=file:${pinSource}`], { env });

  const fifo = join(token.store.dir, 'pin.fifo');
  t.is((await run('mkfifo', ['-m', '600', fifo])).code, 0);
  const [viaFifo] = await Promise.all([list(fifo), run('sh', ['-c', 'printf "%s\\n" "$PIN" > "$1"', 'sh', fifo], { env: { ...env, PIN: CLI_PIN } })]);
  t.is(viaFifo.code, 0, viaFifo.stderr);
  t.false(viaFifo.stderr.includes('warning'), viaFifo.stderr);
  const substituted = await run(
    'bash',
    ['-c', `"${process.execPath}" "${KEYWARD_BIN}" --no-input key list "pkcs11:token=${token.label}?pin-source=file:"<(printf %s "$PIN")`],
    { env: { ...env, PIN: CLI_PIN } },
  );
  t.is(substituted.code, 0, substituted.stderr);

  const large = join(token.store.dir, 'large.pin');
  writeFileSync(large, `${CLI_PIN}\n${'x'.repeat(2048)}`, { mode: 0o600 });
  for (const path of [large, '/dev/zero']) {
    const refused = await list(path);
    t.is(refused.code, 2, refused.stderr);
    t.regex(refused.stderr, new RegExp(`the PIN file ${path} holds more than 1024 bytes`));
  }
  const json = await token.keyward(['--json', 'key', 'list', `pkcs11:token=${token.label}?pin-source=file:/dev/zero`], { env });
  t.like(JSON.parse(json.stdout).error, { code: 'PIN_FILE_TOO_LARGE' });
});

test('a missing key: exit 3, listing what the token holds', async (t) => {
  const token = await cliToken(t);
  await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=present`, '-a', 'p256']);
  const result = await token.keyward([
    'key',
    'sign',
    `pkcs11:token=${token.label};object=absent`,
    '--in',
    '/etc/hostname',
    '--out',
    join(token.store.dir, 'absent.sig'),
  ]);
  t.is(result.code, 3);
  t.regex(result.stderr, /no key matches pkcs11:token=.*;object=absent/);
  t.regex(result.stderr, /object=present;type=private/);
  const noToken = await token.keyward(['key', 'list', 'pkcs11:token=nope']);
  t.is(noToken.code, 3);
  t.regex(noToken.stderr, new RegExp(`token=${token.label}`));
});

test('an unknown module: exit 5 and what to install', async (t) => {
  const result = await keyward(['--module', '/opt/nothing/libsofthsm2.so', 'token', 'list']);
  t.is(result.code, 5);
  t.regex(result.stderr, /PKCS#11 module \/opt\/nothing\/libsofthsm2.so \(from --module\) does not exist/);
  t.regex(result.stderr, /apt-get install softhsm2/);
});

test('unsupported algorithm, unknown option, taken label: usage and conflict exit codes', async (t) => {
  const token = await cliToken(t);
  const algorithm = await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=k`, '-a', 'rsa1024']);
  t.is(algorithm.code, 2);
  t.regex(algorithm.stderr, /Allowed choices are p256, p384, rsa2048, rsa3072, rsa4096, ed25519/);
  t.is((await token.keyward(['key', 'list', '--pin', '1234'])).code, 2, 'there is no --pin option');
  await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=k`, '-a', 'p256']);
  const taken = await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=k`, '-a', 'p384']);
  t.is(taken.code, 7);
  t.regex(taken.stderr, /already has a key labelled "k"/);
  t.is(JSON.parse((await token.keyward(['key', 'list', '--json'])).stdout)[0].algorithm, 'p256', 'the old key is untouched');
});

test('every command has help with examples', async (t) => {
  const commands = [
    [],
    ['token'],
    ['token', 'list'],
    ['token', 'init'],
    ['token', 'change-pin'],
    ['token', 'unblock'],
    ['key'],
    ['key', 'generate'],
    ['key', 'list'],
    ['key', 'public'],
    ['key', 'sign'],
    ['key', 'delete'],
    ['cert', 'show'],
    ['cert', 'import'],
    ['cert', 'self-sign'],
    ['demo'],
  ];
  for (const command of commands) {
    const help = await keyward([...command, '--help']);
    t.is(help.code, 0, command.join(' '));
    if (command.length !== 1) t.regex(help.stdout, /Examples:/, `${command.join(' ')} --help has examples`);
  }
  const top = await keyward(['--help']);
  t.regex(top.stdout, /Exit codes:/);
  t.regex(top.stdout, /never taken from the command line/);
});

test('--json: usage errors (unknown command or option, missing option or argument, bad choice) are a JSON error on stdout; --version is {"version"}', async (t) => {
  const cases: Array<[args: string[], code: string, message: RegExp]> = [
    [['--json', 'nosuch'], 'UNKNOWN_COMMAND', /^unknown command 'nosuch'/],
    [['--json', 'key', 'nosuch'], 'UNKNOWN_COMMAND', /^unknown command 'nosuch'/],
    [['key', 'sign', 'pkcs11:token=t;object=k', '--json'], 'OPTION_MISSING', /^required option '-i, --in <file>' not specified$/],
    [['--json', 'key', 'public'], 'ARGUMENT_MISSING', /^missing required argument 'uri'$/],
    [['--json', 'key', 'list', '--bogus'], 'UNKNOWN_OPTION', /^unknown option '--bogus'$/],
    [['--json', 'key', 'generate', 'pkcs11:token=t;object=k', '-a', 'rsa1024'], 'OPTION_INVALID', /Allowed choices are p256, p384/],
    [['--json', 'key', 'sign', 'pkcs11:token=t;object=k', '--in'], 'OPTION_VALUE_MISSING', /^option '-i, --in <file>' argument missing$/],
  ];
  for (const [args, code, message] of cases) {
    const result = await keyward(args);
    t.is(result.code, 2, args.join(' '));
    t.is(result.stderr, '', `${args.join(' ')}: with --json the error is on stdout only`);
    const { error } = JSON.parse(result.stdout || 'null') ?? {};
    t.like(error, { code, hint: 'add --help for usage' }, args.join(' '));
    t.regex(error?.message ?? '', message, args.join(' '));
  }
  for (const args of [
    ['--json', '--version'],
    ['--version', '--json'],
  ]) {
    const version = await keyward(args);
    t.is(version.code, 0);
    t.deepEqual(
      JSON.parse(version.stdout || 'null'),
      { version: JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version },
      args.join(' '),
    );
  }
  // Without --json nothing changes: the message and the pointer to --help on stderr.
  const human = await keyward(['key', 'list', '--bogus']);
  t.is(human.code, 2);
  t.is(human.stdout, '');
  t.is(human.stderr, "error: unknown option '--bogus'\n(add --help for usage)\n");
  t.is((await keyward(['--version'])).stdout.trim(), JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
  // Run from another project's npm script, npm_package_version is that project's: not Keyward's version.
  const inOtherProject = await keyward(['--version'], { env: { ...process.env, npm_package_version: '9.9.9' } });
  t.is(inOtherProject.stdout.trim(), JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
});

test('a misspelt key and no PIN: "no key matches" (exit 3) from what the token shows without a PIN, not "the PIN is needed"', async (t) => {
  const token = await cliToken(t);
  t.is((await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=present`, '-a', 'p256'])).code, 0);
  const env = { ...token.env };
  delete env.KEYWARD_PIN;
  const absent = `pkcs11:token=${token.label};object=presnt`;
  for (const args of [
    ['key', 'sign', absent, '--in', '/etc/hostname', '--base64'],
    ['key', 'public', absent],
    ['cert', 'show', absent],
    ['key', 'delete', absent, '--yes'],
  ]) {
    const result = await token.keyward(args, { env });
    t.is(result.code, 3, `${args.join(' ')}: ${result.stderr}`);
    t.regex(
      result.stderr,
      new RegExp(`^keyward: no key matches pkcs11:token=${token.label};object=presnt on token "${token.label}" among the objects it shows without a PIN\\n`),
      args.join(' '),
    );
    t.regex(result.stderr, /object=present;type=public/, 'the keys it does show are listed');
    t.regex(
      result.stderr,
      /a private key stored without a public key or certificate shows only after logging in: give the PIN \(KEYWARD_PIN_TOKEN_[0-9a-f]+ or KEYWARD_PIN, or pin-source=file:… in the URI\) to search those too/,
    );
    t.notRegex(result.stderr, /is needed/);
  }
  // The right name without a PIN gets as far as the PIN: the key was found among the public objects.
  const right = await token.keyward(['key', 'sign', `pkcs11:token=${token.label};object=present`, '--in', '/etc/hostname', '--base64'], { env });
  t.is(right.code, 4, right.stderr);
  t.regex(right.stderr, /the user PIN of token .* is needed/);
  // With a PIN at hand the search covers private objects too, and the answer lists what the PIN shows.
  const withPin = await token.keyward(['key', 'public', absent]);
  t.is(withPin.code, 3);
  t.regex(withPin.stderr, /^keyward: no key matches .*object=presnt on token "[^"]+"\n/);
  t.regex(withPin.stderr, /object=present;type=private/);
});

test('keyward help errors prints the registry: every code once, with its exit code and meaning; --json too', async (t) => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  const rows = codes.map((code) => ({ code, exitCode: exitCodeOf(code), meaning: ERROR_CODES[code].meaning }));
  for (const args of [
    ['help', 'errors', '--json'],
    ['--json', 'help', 'errors'],
  ]) {
    const json = await keyward(args);
    t.is(json.code, 0, json.stderr);
    t.deepEqual(JSON.parse(json.stdout), rows, args.join(' '));
  }
  const text = await keyward(['help', 'errors']);
  t.is(text.code, 0, text.stderr);
  t.deepEqual(
    text.stdout.split('\n').flatMap((line) => /^ {2}([A-Z][A-Z0-9_]+) /.exec(line)?.[1] ?? []),
    codes,
    'a line for each code, in order',
  );
  // Long meanings wrap onto indented lines: compare with the whitespace folded.
  const folded = text.stdout.replace(/\s+/g, ' ');
  for (const { code, exitCode, meaning } of rows) t.true(folded.includes(` ${code} ${exitCode} ${meaning} `), code);
  t.regex((await keyward(['--help'])).stdout, /keyward help errors/);
});
