/**
 * `keyward ca …` on a CA directory someone planted symbolic links in (it travels on removable
 * media): `ca status`, `ca crl` and `ca serve`'s start-up refuse with exit code 2, naming the link
 * and saying to remove it; the file a link points at is untouched, and nothing is created outside.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliCa } from '../harness/ca.js';
import { KEYWARD_BIN, type RunResult } from '../harness/run.js';

const HINT = 'remove the link; a CA directory holds regular files only';
const VICTIM = "the operator's own file\n";

/** A CA made by the binary (root and cluster intermediate), and an "outside" a planted link would aim at; all removed when the test ends. */
async function caWithOutside(t: ExecutionContext) {
  const cli = await cliCa(t);
  for (const args of [
    ['root', 'create', '--key', cli.rootKey, '--generate', 'p256'],
    ['intermediate', 'create', '--root-key', cli.rootKey, '--key', cli.caKey, '--generate', 'p256', '--cluster-id', 'c1'],
  ]) {
    const made = await cli.ca(args);
    if (made.code !== 0) throw new Error(made.stderr);
  }
  const outside = join(cli.token.store.dir, 'outside');
  mkdirSync(outside);
  const victim = join(outside, 'victim');
  writeFileSync(victim, VICTIM);
  return { ...cli, outside, victim };
}

function refused(t: ExecutionContext, result: RunResult, link: string, what: string): void {
  t.is(result.code, 2, `${what}: ${result.stderr}`);
  t.true(result.stderr.includes(`${link} is a symbolic link`), `${what}: ${result.stderr}`);
  t.true(result.stderr.includes(HINT), `${what}: ${result.stderr}`);
}

test('keyward ca status refuses a ledger linked to nothing or a link beside it, and creates nothing anywhere', async (t) => {
  const { dir, outside, ca } = await caWithOutside(t);
  const ledger = join(dir, 'ledger.sqlite');
  renameSync(ledger, join(outside, 'ledger.kept'));
  symlinkSync(join(outside, 'ledger.sqlite'), ledger);
  refused(t, await ca(['status']), ledger, 'a dangling ledger.sqlite');
  t.false(existsSync(join(outside, 'ledger.sqlite')), 'no ledger was created where the link points');

  rmSync(ledger);
  renameSync(join(outside, 'ledger.kept'), ledger);
  symlinkSync(join(outside, 'wal'), `${ledger}-wal`);
  refused(t, await ca(['status']), `${ledger}-wal`, 'ledger.sqlite-wal');
  t.false(existsSync(join(outside, 'wal')), 'SQLite wrote no log where the link points');

  rmSync(`${ledger}-wal`);
  const files = readdirSync(dir).sort();
  const status = await ca(['status', '--json']);
  t.is(status.code, 0, status.stderr);
  t.is(JSON.parse(status.stdout).clusterId, 'c1');
  t.deepEqual(readdirSync(dir).sort(), files, 'status left the directory as it found it');
  t.deepEqual(readdirSync(outside).sort(), ['victim']);
});

test('keyward ca crl refuses a CRL linked to another file and a crl directory linked elsewhere', async (t) => {
  const { dir, outside, victim, ca } = await caWithOutside(t);
  const crl = join(dir, 'crl', 'intermediate.crl.pem');
  symlinkSync(victim, crl);
  refused(t, await ca(['crl']), crl, 'crl/intermediate.crl.pem');
  t.is(readFileSync(victim, 'utf8'), VICTIM);

  rmSync(join(dir, 'crl'), { recursive: true });
  symlinkSync(outside, join(dir, 'crl'));
  refused(t, await ca(['crl']), join(dir, 'crl'), 'crl/');
  t.deepEqual(readdirSync(outside), ['victim'], 'no CRL was written into the directory the link reaches');
});

/** `keyward ca serve` until it exits, or says it listens (then it is stopped and "listening" returned). */
function serveOutcome(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult | 'listening'> {
  const child = spawn(process.execPath, [KEYWARD_BIN, '--no-input', 'ca', 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/serving cfssl's API at/.test(stderr)) {
        child.kill('SIGKILL');
        resolve('listening');
      }
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, stdoutBytes: Buffer.from(stdout) }));
  });
}

test('keyward ca serve refuses at start-up to write its first CRL through a link', async (t) => {
  const { token, dir, victim } = await caWithOutside(t);
  const crl = join(dir, 'crl', 'intermediate.crl.pem');
  symlinkSync(victim, crl);
  // Mutual TLS: the server signs a fresh intermediate CRL before it listens.
  const outcome = await serveOutcome(t, ['--listen', '127.0.0.1:0', '--tls', '--client-auth', 'managers', '--dir', dir], token.env);
  t.not(outcome, 'listening', 'the server did not start');
  if (outcome !== 'listening') refused(t, outcome, crl, 'ca serve');
  t.is(readFileSync(victim, 'utf8'), VICTIM);
});
