/**
 * A process killed while SoftHSM rewrites a token's record. On SoftHSM's file object store (the one
 * every Debian store is on) C_Login truncates `token.object` and writes it again; killed in between,
 * the file stays empty and the token and its keys are gone. strace sends the signal exactly there,
 * every time, so nothing here depends on timing. What Keyward can do: log in only when a private
 * object is needed, hold Ctrl-C, SIGTERM and SIGHUP until the rewrite is done, use the database
 * object store for the stores it makes where SoftHSM has one, and warn about the file store.
 */
import test from 'ava';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { softHsmHasDatabaseStore } from '../../src/hsm/pkcs11/softhsm-store.js';
import { cliToken, CLI_PIN, CLI_SO_PIN, type CliToken } from '../harness/cli-token.js';
import { keyward } from '../harness/run.js';
import { createSoftHsmStore, SOFTHSM_MODULE, uniqueLabel } from '../harness/softhsm.js';
import { keywardSignalledAt } from '../harness/strace.js';
import type { Teardown } from '../harness/temp.js';

const KEY = 'k';
/** The SoftHSM the commands load: KEYWARD_PKCS11_MODULE (a SoftHSM built with SQLite, say) or the installed one. */
const MODULE = process.env.KEYWARD_PKCS11_MODULE || SOFTHSM_MODULE;

interface CrashToken extends CliToken {
  keyUri: string;
  /** The token's own directory in the store. */
  dir: string;
  /** Whether the token signs (its PIN unlocks it and the key is there). */
  signs(): Promise<boolean>;
}

/** A CLI token with one key, on the object store asked for. */
async function crashToken(t: Teardown, objectStore: 'file' | 'db'): Promise<CrashToken> {
  const token = await cliToken(t, { objectStore, module: MODULE });
  const keyUri = `pkcs11:token=${token.label};object=${KEY}`;
  const generated = await token.keyward(['key', 'generate', keyUri, '-a', 'p256']);
  if (generated.code !== 0) throw new Error(`key generate failed: ${generated.stderr}`);
  const [dir] = readdirSync(token.store.tokenDir);
  const data = join(token.store.dir, 'data');
  await token.keyward(['key', 'public', keyUri, '--out', data]);
  return {
    ...token,
    keyUri,
    dir: join(token.store.tokenDir, dir!),
    signs: async () => (await token.keyward(['key', 'sign', keyUri, '--in', data])).code === 0,
  };
}

test('on the file store, commands that need no private object never write token.object: a SIGKILL at any write to it stops none', async (t) => {
  const token = await crashToken(t, 'file');
  const tokenObject = join(token.dir, 'token.object');
  const certificate = join(token.store.dir, 'k.crt');
  t.is((await token.keyward(['cert', 'self-sign', token.keyUri, '--subject', 'CN=crash test', '--out', certificate])).code, 0);
  const killAtWrite = { path: tokenObject, syscalls: ['ftruncate', 'write'], signal: 'SIGKILL' as const };
  for (const args of [
    ['token', 'list'],
    ['key', 'public', token.keyUri],
    // Storing a certificate, a public object, needs no login: it used to log in, and was killed here.
    ['cert', 'import', token.keyUri, '--in', certificate],
    ['cert', 'show', token.keyUri],
    ['doctor'],
  ]) {
    const result = await keywardSignalledAt(args, killAtWrite, { env: token.env });
    t.is(result.signal, undefined, `keyward ${args.join(' ')} wrote token.object`);
    t.is(result.code, 0, `keyward ${args.join(' ')}: ${result.stderr}`);
  }
  t.true(await token.signs());
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`on the file store, ${signal} when SoftHSM empties token.object at a login stops the command after the rewrite, not in it`, async (t) => {
    const token = await crashToken(t, 'file');
    const tokenObject = join(token.dir, 'token.object');
    const size = statSync(tokenObject).size;
    const data = join(token.store.dir, 'data');
    const result = await keywardSignalledAt(
      ['key', 'sign', token.keyUri, '--in', data],
      { path: tokenObject, syscalls: ['ftruncate'], signal },
      { env: token.env },
    );
    t.is(result.signal, signal, 'the command stopped, as the signal asked');
    t.is(statSync(tokenObject).size, size, 'token.object was written back whole');
    t.true(await token.signs(), 'the token and its key are still there');
  });
}

test("on the file store, a SIGKILL at a login's write still empties token.object: what keyward doctor warns about", async (t) => {
  const token = await crashToken(t, 'file');
  const doctor = JSON.parse((await token.keyward(['doctor', '--json'])).stdout) as { findings: Array<{ level: string; message: string; hint?: string }> };
  const warning = doctor.findings.find((f) => f.message.includes(`"${token.label}"`));
  t.is(warning?.level, 'warning');
  t.regex(warning!.message, /file object store .* token\.object at every login, and a crash in that moment .* leaves it empty/);
  t.regex(warning!.hint!, new RegExp(`back up ${token.store.tokenDir}`));

  const tokenObject = join(token.dir, 'token.object');
  const data = join(token.store.dir, 'data');
  const killed = await keywardSignalledAt(
    ['key', 'sign', token.keyUri, '--in', data],
    { path: tokenObject, syscalls: ['write'], signal: 'SIGKILL' },
    { env: token.env },
  );
  t.is(killed.signal, 'SIGKILL');
  t.is(statSync(tokenObject).size, 0, 'SoftHSM 2.6 rewrites token.object in place; a login cannot avoid it');
  t.false(await token.signs(), 'the token is gone: the reason for the warning, and for the database store');
});

test('keyward token init says when the new token is on the file store, and token list --json says how each token is kept', async (t) => {
  const store = createSoftHsmStore('keyward-init-', { objectStore: 'file', module: MODULE });
  t.teardown(() => store.remove());
  const label = uniqueLabel('init');
  const init = await keyward(['token', 'init', '--label', label], { env: { ...store.env, KEYWARD_PIN: CLI_PIN, KEYWARD_SO_PIN: CLI_SO_PIN } });
  t.is(init.code, 0, init.stderr);
  t.regex(init.stderr, new RegExp(`^keyward: warning: SoftHSM token "${label}" is on its file object store \\(${store.tokenDir}\\)`, 'm'));
  t.regex(init.stderr, /back up .* a copy of a token's token\.object, made any time after it was initialised, restores an emptied one/);
  const listed = JSON.parse((await keyward(['token', 'list', '--json'], { env: store.env })).stdout) as Array<{ label: string; objectStore?: string }>;
  t.deepEqual(
    listed.map((x) => [x.label, x.objectStore]),
    [[label, 'file']],
  );
});

// Debian's softhsm2 2.6 is built without the database store: there this test is skipped.
(softHsmHasDatabaseStore(MODULE) ? test : test.skip)(
  "where SoftHSM has its database store (Keyward's own stores use it), a SIGKILL at a login's first write loses nothing",
  async (t) => {
    const token = await crashToken(t, 'db');
    t.is(token.store.objectStore, 'db');
    const data = join(token.store.dir, 'data');
    const database = join(token.dir, 'sqlite3.db');
    const killed = await keywardSignalledAt(
      ['key', 'sign', token.keyUri, '--in', data],
      { path: database, syscalls: ['write', 'pwrite64'], signal: 'SIGKILL' },
      { env: token.env },
    );
    t.is(killed.signal, 'SIGKILL');
    t.true(await token.signs(), "SQLite's journal undid the half-done write");
    const doctor = JSON.parse((await token.keyward(['doctor', '--json'])).stdout) as { findings: Array<{ message: string }> };
    t.false(
      doctor.findings.some((f) => f.message.includes(`"${token.label}"`)),
      'no warning for a token on the database store',
    );
  },
);
