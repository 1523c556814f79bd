/**
 * Every file a command writes (--out, --chain-out, --root-out, --intermediates-out, a virtual
 * card's --state) is checked as the command line is read, before any device is asked for anything:
 * a path Keyward could not write is a usage error (exit 2) naming the option, the path and why,
 * never an "unexpected error" after a signature (and a touch) was spent, nor a temporary file's name.
 */
import test from 'ava';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyward, run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

const NOBODY = { uid: 65534, gid: 65534 };

test('a path Keyward could not write is refused before any device or CA is touched, naming the option, the path and why', async (t) => {
  const dir = tempDir(t, 'keyward-outputs-');
  chmodSync(dir, 0o755); // nobody (below) may look inside, not write
  const data = join(dir, 'data');
  writeFileSync(data, 'to be signed\n');
  const fifo = join(dir, 'fifo');
  t.is((await run('mkfifo', [fifo])).code, 0);
  const openToAll = join(dir, 'open');
  mkdirSync(openToAll, { mode: 0o777 });
  chmodSync(openToAll, 0o777);
  const rootsFile = join(openToAll, 'roots-file');
  writeFileSync(rootsFile, "root's\n", { mode: 0o644 });

  // Each command names a device or a CA that is not there: had it been asked first, the exit code would say so (3, 4, 5).
  const token = 'pkcs11:token=no-such-token;object=k';
  const env = { ...process.env, SOFTHSM2_CONF: join(dir, 'no-softhsm.conf'), PCSCLITE_CSOCK_NAME: join(dir, 'no-pcscd'), KEYWARD_PIN: '' };
  const ca = join(dir, 'no-ca');
  const commands: Array<[flag: string, args: (path: string) => string[]]> = [
    ['--out', (p) => ['key', 'sign', token, '--in', data, '--out', p]],
    ['--out', (p) => ['key', 'public', token, '--out', p]],
    ['--out', (p) => ['cert', 'show', token, '--out', p]],
    ['--out', (p) => ['cert', 'self-sign', token, '--subject', 'CN=x', '--out', p]],
    ['--out', (p) => ['ca', 'issue', '--csr', data, '--out', p, '--dir', ca]],
    ['--out', (p) => ['ca', 'crl', '--out', p, '--dir', ca]],
    ['--out', (p) => ['ca', 'intermediate', 'request', '--key', token, '--cluster-id', 'c1', '--out', p, '--dir', ca]],
    ['--out', (p) => ['ca', 'intermediate', 'create', '--root-key', token, '--csr', data, '--cluster-id', 'c1', '--out', p, '--dir', ca]],
    ['--chain-out', (p) => ['yubikey', 'attest', 'yubikey:slot=9a', '--chain-out', p]],
    ['--state', (p) => ['yubikey', 'virtual', 'create', '--state', p]],
    ['--root-out', (p) => ['yubikey', 'virtual', 'create', '--state', join(openToAll, 'card.json'), '--force', '--yes', '--root-out', p]],
    [
      '--intermediates-out',
      (p) => ['yubikey', 'virtual', 'create', '--state', join(openToAll, 'card.json'), '--force', '--yes', '--firmware', '5.7.4', '--intermediates-out', p],
    ],
  ];
  const paths: Array<[path: string, why: RegExp, user?: typeof NOBODY]> = [
    [join(dir, 'missing', 'x.out'), new RegExp(`: the directory ${join(dir, 'missing')} does not exist`)],
    [dir, /is a directory; Keyward writes only regular files/],
    [fifo, /is a FIFO; Keyward writes only regular files/],
    [join(data, 'x.out'), new RegExp(`: ${data} is not a directory`)],
    [join(dir, 'x.out'), new RegExp(`: this user may not create files in ${dir}`), NOBODY],
    [rootsFile, /is not writable for this user/, NOBODY],
  ];
  for (const [flag, args] of commands) {
    for (const [path, why, user] of paths) {
      const result = await keyward(args(path), { env, user });
      const what = `${args(path).slice(0, 3).join(' ')} ${flag} ${path}${user ? ' (as nobody)' : ''}`;
      t.is(result.code, 2, `${what}: ${result.stderr}`);
      t.true(result.stderr.startsWith(`keyward: ${flag} ${path}`), `${what}: ${result.stderr}`);
      t.regex(result.stderr, why, what);
      t.notRegex(result.stderr, /unexpected error|\.tmp\b/, what);
    }
  }
  t.deepEqual(readdirSync(dir).sort(), ['data', 'fifo', 'open'], 'nothing was created, not even a temporary file');
  t.deepEqual(readdirSync(openToAll), ['roots-file']);
});

test('key sign to a directory that does not exist: refused at once, and the device is never asked (no PIN, no signature)', async (t) => {
  const dir = tempDir(t, 'keyward-outputs-');
  const data = join(dir, 'data');
  writeFileSync(data, 'release\n');
  // Before: the signature was made, then "unexpected error … ENOENT … /missing/dir/.x.sig.<random>.tmp".
  const result = await keyward(['key', 'sign', 'pkcs11:token=absent;object=signer', '--in', data, '--out', '/missing/dir/x.sig'], {
    env: { ...process.env, SOFTHSM2_CONF: join(dir, 'none.conf') },
  });
  t.is(result.code, 2, result.stderr);
  t.is(result.stderr.split('\n')[0], 'keyward: --out /missing/dir/x.sig: the directory /missing/dir does not exist');
  t.regex(result.stderr, /hint: create it \(mkdir -p \/missing\/dir\), or give another path/);
  const json = await keyward(['--json', 'key', 'sign', 'pkcs11:token=absent;object=signer', '--in', data, '--out', '/missing/dir/x.sig']);
  t.like(JSON.parse(json.stdout).error, { code: 'OUTPUT_DIRECTORY_MISSING' });
});
