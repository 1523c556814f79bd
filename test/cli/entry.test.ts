/**
 * The binary's entry: it starts without loading what the command line does not ask for, refuses
 * unknown commands, prints its exit codes from the one table, and leaves quietly when its reader
 * goes away.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isOutputOption } from '../../cli/io.js';
import { buildProgram, defineNoun } from '../../cli/main.js';
import { EXIT_CODES } from '../../src/errors.js';
import { createSoftHsmStore } from '../../src/hsm/pkcs11/softhsm.js';
import { KEYWARD_BIN, keyward, PROJECT_ROOT, run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';
import { fixtureRepositories, staticServer, trustClientArgs } from '../harness/tuf.js';

/** Packages only an action may load: drivers and native bindings, x509 and ASN.1, SQLite, prompts and spinners. */
const HEAVY = ['pkcs11js', 'smartcard', 'node-hid', 'better-sqlite3', '@peculiar/', 'asn1js', 'reflect-metadata', 'tsyringe', '@noble/', '@inquirer/', 'ora'];

/** The modules `keyward …args` loads, as the loader and require's cache saw them. */
async function modulesLoaded(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; modules: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-modules-'));
  const log = join(dir, 'modules');
  try {
    const ran = await run(process.execPath, ['--import', join(PROJECT_ROOT, 'test/harness/module-log.mjs'), KEYWARD_BIN, ...args], {
      env: { ...env, KEYWARD_MODULE_LOG: log },
    });
    return { code: ran.code, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const heavyIn = (modules: string[]) => [...new Set(modules.flatMap((m) => HEAVY.filter((p) => m.includes(`/node_modules/${p}`))))];

test("--version, --help and every noun's --help load no driver, x509, SQLite or prompt library", async (t) => {
  const program = buildProgram();
  const nouns = program.commands.map((c) => c.name()).filter((n) => n !== 'help');
  const yubikey = program.commands.find((c) => c.name() === 'yubikey')!;
  await defineNoun(yubikey);
  t.true(
    yubikey.commands.some((c) => c.name() === 'virtual'),
    'the nested noun below is real',
  );
  const lines = [
    ['--version'],
    ['--help'],
    ...nouns.map((n) => [n, '--help']),
    ['yubikey', 'virtual', '--help'],
    ['key', 'sign', '--help'],
    ['help', 'ca', 'serve'],
  ];
  for (const args of lines) {
    const { code, modules } = await modulesLoaded(args);
    t.is(code, 0, args.join(' '));
    t.deepEqual(heavyIn(modules), [], `keyward ${args.join(' ')}`);
  }
  // Nor does --version read the nouns' modules: it needs only their names.
  const version = await modulesLoaded(['--version']);
  t.false(version.modules.some((m) => /\/dist\/cli\/(key|ca|yubikey|trust|token|cert|doctor)(\.js$|\/)/.test(m)));
});

test('the module log sees what an action loads: a CA command loads x509 and SQLite when it runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-no-ca-'));
  try {
    const { modules } = await modulesLoaded(['ca', 'status', '--dir', join(dir, 'ca')]);
    t.true(heavyIn(modules).includes('@peculiar/'), 'x509 (an ES module) is loaded by the action, and the log shows it');
    t.true(heavyIn(modules).includes('better-sqlite3'), 'so is SQLite (CommonJS, native)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a YubiKey command loads no pkcs11js, and a token command no PC/SC: administration loads only its own backend', async (t) => {
  const store = createSoftHsmStore('keyward-entry-');
  try {
    const token = await modulesLoaded(['token', 'list'], store.env);
    t.is(token.code, 0);
    t.deepEqual(heavyIn(token.modules), ['pkcs11js']);
    t.false(token.modules.some((m) => m.includes('/keystore/yubikey/')));
    const yubikey = await modulesLoaded(['yubikey', 'list']);
    t.true(heavyIn(yubikey.modules).includes('smartcard'), 'the PC/SC binding is what lists YubiKeys');
    t.false(heavyIn(yubikey.modules).includes('pkcs11js'));
    t.false(yubikey.modules.some((m) => m.includes('/keystore/pkcs11/')));
  } finally {
    store.remove();
  }
});

test('a TUF client refresh and download loads the client alone: no driver, keystore, x509, SQLite or prompt, no writer or its commands, no TLS for http:', async (t) => {
  const [repo] = fixtureRepositories();
  const server = await staticServer(repo!.dir);
  t.teardown(() => server.close());
  const dir = tempDir(t, 'keyward-client-modules-');
  writeFileSync(join(dir, 'root.json'), repo!.initialRoot);
  const client = trustClientArgs(dir, server.url, repo!.time);
  t.is((await keyward(client.init(join(dir, 'root.json')))).code, 0);
  const { code, modules } = await modulesLoaded(client.download(repo!.targetPath));
  t.is(code, 0);
  t.true(existsSync(join(dir, 'targets', repo!.targetPath)), 'the target was downloaded: the log covers the whole command');
  t.true(modules.some((m) => m.endsWith('/dist/src/trust/client/updater.js')));
  t.deepEqual(heavyIn(modules), []);
  t.deepEqual(
    modules.filter(
      (m) =>
        m === 'node:https' ||
        /\/dist\/(src\/((keystore|hsm|certificates|ca|trust\/repository)\/|x509\/(?!pem\.js$))|cli\/(trust\/(repo|sign|common)|confirm)\.js$)/.test(m),
    ),
    [],
    'nothing of the keystore, the devices, X.509 beyond PEM, the CA, the repository writer or its commands, nor TLS for an http: repository',
  );
});

test('an unknown command is refused with exit 2, with --help or without; help <command> shows that command', async (t) => {
  for (const args of [['nosuchnoun', 'sign', '--help'], ['nosuchnoun'], ['key', 'nosuch', '--help'], ['help', 'nosuch']]) {
    const result = await keyward(args);
    t.is(result.code, 2, args.join(' '));
    t.regex(result.stderr, new RegExp(`unknown command '${args.includes('nosuchnoun') ? 'nosuchnoun' : 'nosuch'}'`));
    t.is(result.stdout, '', 'no help printed as if the command were fine');
  }
  const help = await keyward(['help', 'key', 'sign']);
  t.is(help.code, 0);
  t.regex(help.stdout, /Usage: keyward key sign \[options\] <uri>/);
  t.regex((await keyward(['key', '--help'])).stdout, /sign \[options\] <uri>\s+sign a file with a key in the device/);
  // A command a noun names lazily (trust's) is defined on the way, for help as for a run.
  const nested = await keyward(['help', 'trust', 'client', 'download']);
  t.is(nested.code, 0, nested.stderr);
  t.regex(nested.stdout, /Usage: keyward trust client download \[options\]/);
});

test('keyward --help lists every exit code from the one table', async (t) => {
  // Long meanings wrap onto indented lines: compare with the whitespace folded.
  const help = (await keyward(['--help'])).stdout.replace(/\s+/g, ' ');
  for (const { code, meaning } of Object.values(EXIT_CODES)) t.true(help.includes(` ${code} ${meaning} `), `exit code ${code}`);
});

test('a reader that goes away (keyward key --help | head) ends the command quietly', async (t) => {
  const child = spawn(process.execPath, [KEYWARD_BIN, 'key', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // The reader leaves before keyward writes a byte.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(stderr, '');
  t.is(code, 0);
});

test('every option that names a file a command writes is checked before the command runs (outputOption)', async (t) => {
  const program = buildProgram();
  // Every command defined, those a noun names lazily too (trust's).
  const defineAll = async (command: Command): Promise<void> => {
    await defineNoun(command);
    for (const child of command.commands) await defineAll(child);
  };
  await defineAll(program);
  const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
  const writing = all(program).flatMap((command) =>
    command.options
      // --out, --chain-out, --root-out …; and the state file the virtual card's create and serve write.
      .filter((o) => /-out$/.test(o.long ?? '') || (o.long === '--state' && ['create', 'serve'].includes(command.name())))
      .map((o) => [`${command.parent?.name()} ${command.name()} ${o.long}`, o] as const),
  );
  t.true(writing.length >= 12, writing.map(([name]) => name).join(', '));
  for (const [name, option] of writing) t.true(isOutputOption(option), name);
});
