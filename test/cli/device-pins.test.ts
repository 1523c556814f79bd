/**
 * `keyward trust sign` as a developer runs it: the release key on a YubiKey (PIN always, served
 * through a real pcscd) and the online snapshot and timestamp keys in a SoftHSM token, whose PINs
 * differ. Each device takes its PIN from its own variable; with only KEYWARD_PIN the second device
 * is refused before any try; the retry counters show that no PIN reached the wrong device.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveVirtualCard, startPcscd, type PcscRig } from '../harness/pcscd.js';
import { keyward } from '../harness/run.js';
import { createSoftHsmStore, uniqueLabel } from '../harness/softhsm.js';
import { tempDir } from '../harness/temp.js';

const TOKEN_PIN = '24681357'; // a PIN the YubiKey would take too: tried there, it would spend a try
const CARD_PIN = '123456'; // the virtual YubiKey's factory PIN
const CARD_SERIAL = 27182818;

let rig: PcscRig;
test.before(async () => {
  rig = await startPcscd();
});
test.after.always(async () => {
  await rig?.stop();
});

test.serial('trust sign with a YubiKey and an online token: each its own PIN variable; KEYWARD_PIN alone reaches one device only', async (t) => {
  const store = createSoftHsmStore('keyward-device-pins-');
  t.teardown(() => store.remove());
  const card = await serveVirtualCard(rig, { serial: CARD_SERIAL });
  t.teardown(() => card.stop());
  const base = { ...rig.env, ...store.env };
  const run = (args: string[], env: NodeJS.ProcessEnv) => keyward(args, { env: { ...base, ...env } });
  const label = uniqueLabel('online');
  t.is((await run(['token', 'init', '--label', label], { KEYWARD_PIN: TOKEN_PIN, KEYWARD_SO_PIN: `so-${TOKEN_PIN}` })).code, 0);
  const [listed] = JSON.parse((await run(['token', 'list', '--json'], {})).stdout);
  const tokenVariable = `KEYWARD_PIN_TOKEN_${listed.serial}`;
  const cardVariable = `KEYWARD_PIN_YUBIKEY_${CARD_SERIAL}`;
  t.is(listed.pinVariable, tokenVariable, 'token list names the variable');
  t.regex((await run(['token', 'list'], {})).stdout, new RegExp(`PIN variable: ${tokenVariable}\\n`));
  t.is(JSON.parse((await run(['yubikey', 'list', '--json'], {})).stdout)[0].pinVariable, cardVariable, 'yubikey list too');
  const both = { [tokenVariable]: TOKEN_PIN, [cardVariable]: CARD_PIN };

  const keys: Record<string, string> = {};
  for (const role of ['root', 'targets', 'snapshot', 'timestamp']) {
    keys[role] = `pkcs11:token=${label};object=${role}`;
    t.is((await run(['key', 'generate', keys[role]!, '-a', 'p256'], both)).code, 0);
  }
  const releaseKey = `yubikey:serial=${CARD_SERIAL};slot=9c`;
  t.is((await run(['key', 'generate', releaseKey, '-a', 'p256', '--pin-policy', 'always', '--touch-policy', 'never'], both)).code, 0);
  const repo = join(tempDir(t, 'keyward-device-pins-repo-'), 'repo');
  const init = await run(
    [
      'trust',
      'repo',
      'init',
      repo,
      '--root-key',
      keys.root!,
      '--targets-key',
      keys.targets!,
      '--snapshot-key',
      keys.snapshot!,
      '--timestamp-key',
      keys.timestamp!,
    ],
    both,
  );
  t.is(init.code, 0, init.stderr);
  const delegated = await run(['trust', 'repo', 'delegate', repo, 'releases', '--path', 'releases/*', '--key', releaseKey, '--sign-with', keys.targets!], both);
  t.is(delegated.code, 0, delegated.stderr);

  /** What the devices' counters say: the card's PIN tries left, and whether the token saw a wrong PIN since its last login. */
  const counters = async () => ({
    cardTriesLeft: JSON.parse((await run(['yubikey', 'info', releaseKey, '--json'], {})).stdout).pin.retriesLeft,
    tokenPin: JSON.parse((await run(['token', 'list', '--json'], {})).stdout)[0].userPin,
  });
  const release = (name: string) => {
    const file = join(repo, '..', name);
    writeFileSync(file, `${name}\n`);
    return ['trust', 'sign', repo, `releases/${name}`, '--file', file];
  };
  t.deepEqual(await counters(), { cardTriesLeft: 3, tokenPin: 'ok' });

  // Each device its own variable: the YubiKey signs the release, the token the snapshot and timestamp;
  // a KEYWARD_PIN that fits neither is tried on neither.
  const signed = await run([...release('app-1.0.tgz'), '--json'], { ...both, KEYWARD_PIN: '99999999' });
  t.is(signed.code, 0, signed.stderr);
  t.like(JSON.parse(signed.stdout), { role: 'releases', signedBy: releaseKey });
  t.truthy(JSON.parse(signed.stdout).published, 'published with the online keys');
  t.deepEqual(await counters(), { cardTriesLeft: 3, tokenPin: 'ok' });

  // Only KEYWARD_PIN (the card's): the YubiKey takes it; the token is refused before its PIN is tried.
  const shared = await run([...release('app-1.1.tgz'), '--json'], { KEYWARD_PIN: CARD_PIN });
  t.is(shared.code, 4, shared.stdout);
  const { error } = JSON.parse(shared.stdout);
  t.is(error.code, 'PIN_AMBIGUOUS');
  t.is(
    error.message,
    `KEYWARD_PIN went to YubiKey ${CARD_SERIAL} (firmware 5.7.1); it is not tried on token "${label}" (serial ${listed.serial}) too, which may have another PIN`,
  );
  t.regex(error.hint, new RegExp(`set ${tokenVariable} for token "${label}".* and ${cardVariable} for YubiKey ${CARD_SERIAL}`));
  t.deepEqual(await counters(), { cardTriesLeft: 3, tokenPin: 'ok' }, 'no PIN reached a device it was not meant for');

  // The staged release waits for the online keys; with the token's own variable it is published.
  const published = await run(['trust', 'repo', 'publish', repo], { [tokenVariable]: TOKEN_PIN });
  t.is(published.code, 0, published.stderr);
  t.deepEqual(await counters(), { cardTriesLeft: 3, tokenPin: 'ok' });
});
