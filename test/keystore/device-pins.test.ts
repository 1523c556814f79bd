/**
 * Each device its own PIN: a SoftHSM token and a virtual YubiKey served through a real pcscd, with
 * different PINs, opened by one keystore. Each takes its PIN from its own variable
 * (KEYWARD_PIN_TOKEN_<serial>, KEYWARD_PIN_YUBIKEY_<serial>), KEYWARD_PIN goes to one device only,
 * and the retry counters show that no PIN was tried on a device it was not meant for.
 */
import test from 'ava';
import { AuthError } from '../../src/errors.js';
import { devicePinVariable } from '../../src/keystore/device-pins.js';
import type { Interaction } from '../../src/keystore/interaction.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { Secret } from '../../src/secret.js';
import { pcscdUnavailable, serveVirtualCard, startPcscd, type PcscRig, type ServedVirtualCard } from '../harness/pcscd.js';
import { recordingInteraction, SO_PIN } from '../harness/keystore.js';
import { uniqueLabel, useProcessSoftHsm } from '../harness/softhsm.js';

const TOKEN_PIN = '24681357'; // a PIN a YubiKey would take too: tried there, it would spend a try
const CARD_PIN = '123456'; // the virtual YubiKey's factory PIN
const CARD_SERIAL = 31415926;
const DATA = Buffer.from('signed by two devices, each with its own PIN\n');

let rig: PcscRig | undefined;
let card: ServedVirtualCard | undefined;
/** The token's label and serial; its key `k` and the card's slot 9c (PIN always) exist from `before`. */
let token: { label: string; serial: string };
const tokenKey = () => `pkcs11:token=${token.label};object=k`;
const cardKey = `yubikey:serial=${CARD_SERIAL};slot=9c`;
const tokenVariable = () => `KEYWARD_PIN_TOKEN_${token.serial}`;
const cardVariable = `KEYWARD_PIN_YUBIKEY_${CARD_SERIAL}`;

test.before(async () => {
  if (pcscdUnavailable()) return;
  useProcessSoftHsm();
  rig = await startPcscd();
  card = await serveVirtualCard(rig, { serial: CARD_SERIAL });
  const setUp = new Keystore({ env: { [`KEYWARD_PIN_YUBIKEY_${CARD_SERIAL}`]: CARD_PIN }, interaction: recordingInteraction([]) });
  const label = uniqueLabel('pins');
  const summary = (await setUp.administration('pkcs11')).initToken('pkcs11:', {
    label,
    soPin: Secret.fromString(SO_PIN),
    userPin: Secret.fromString(TOKEN_PIN),
  });
  token = { label, serial: summary.serial };
  const withTokenPin = new Keystore({ env: { KEYWARD_PIN: TOKEN_PIN }, interaction: recordingInteraction([]) });
  await withTokenPin.generate(tokenKey(), { algorithm: 'p256' });
  await withTokenPin.close(); // PKCS#11 login is the whole process's: every test starts logged out
  await setUp.generate(cardKey, { algorithm: 'p256', pinPolicy: 'always', touchPolicy: 'never' });
  await setUp.close();
});

test.after.always(async () => {
  await card?.stop();
  await rig?.stop();
});

/** What the devices' counters say: the card's PIN tries left, and whether the token saw a wrong PIN since its last login. */
async function counters(): Promise<{ cardTriesLeft: number | undefined; tokenPin: string }> {
  const keystore = new Keystore({ env: {}, interaction: recordingInteraction([]) });
  try {
    const session = await (await keystore.administration('yubikey')).session(cardKey);
    const tokenPin = (await keystore.administration('pkcs11')).tokens(`pkcs11:token=${token.label}`)[0]!.userPin;
    return { cardTriesLeft: (await session.pinStatus()).retriesLeft, tokenPin };
  } finally {
    await keystore.close();
  }
}

/** Signs with the token's key, then the card's, in one keystore; each result or error. */
async function signWithBoth(keystore: Keystore): Promise<{ token: unknown; card: unknown }> {
  const sign = async (uri: string) => (await keystore.open(uri)).sign(DATA).catch((error: unknown) => error);
  try {
    return { token: await sign(tokenKey()), card: await sign(cardKey) };
  } finally {
    await keystore.close();
  }
}

const skip = pcscdUnavailable();

test.serial('one keystore, two devices with different PINs: each takes its own variable, KEYWARD_PIN is tried on neither', async (t) => {
  if (skip) return t.pass(skip);
  t.is(devicePinVariable('token', token.serial), tokenVariable());
  t.is(devicePinVariable('yubikey', String(CARD_SERIAL)), cardVariable);
  const warnings: string[] = [];
  const keystore = new Keystore({
    env: { [tokenVariable()]: TOKEN_PIN, [cardVariable]: CARD_PIN, KEYWARD_PIN: 'wrong-for-both' },
    interaction: recordingInteraction(warnings),
  });
  const signed = await signWithBoth(keystore);
  t.true(signed.token instanceof Uint8Array, String(signed.token));
  t.true(signed.card instanceof Uint8Array, String(signed.card));
  t.deepEqual(await counters(), { cardTriesLeft: 3, tokenPin: 'ok' }, 'no wrong PIN reached either device');
  t.deepEqual(warnings, []);
});

test.serial('only KEYWARD_PIN: it goes to the first device; the second is refused before any try (card second)', async (t) => {
  if (skip) return t.pass(skip);
  const signed = await signWithBoth(new Keystore({ env: { KEYWARD_PIN: TOKEN_PIN }, interaction: recordingInteraction([]) }));
  t.true(signed.token instanceof Uint8Array, String(signed.token));
  t.true(signed.card instanceof AuthError);
  const error = signed.card as AuthError;
  t.is(error.code, 'PIN_AMBIGUOUS');
  t.is(
    error.message,
    `KEYWARD_PIN went to token "${token.label}" (serial ${token.serial}); it is not tried on YubiKey ${CARD_SERIAL} (firmware 5.7.1) too, which may have another PIN`,
  );
  t.true(error.hint!.includes(`set ${cardVariable} for YubiKey ${CARD_SERIAL}`), error.hint);
  t.true(error.hint!.includes(`and ${tokenVariable()} for token "${token.label}"`), error.hint);
  t.is((await counters()).cardTriesLeft, 3, "the token's PIN was never tried on the card");
});

test.serial('only KEYWARD_PIN: the card first, then the token is refused and sees no wrong PIN', async (t) => {
  if (skip) return t.pass(skip);
  const keystore = new Keystore({ env: { KEYWARD_PIN: CARD_PIN }, interaction: recordingInteraction([]) });
  try {
    t.true((await (await keystore.open(cardKey)).sign(DATA)) instanceof Uint8Array);
    // The key shows without a PIN (its public key object); signing needs the login, which is refused.
    const error = await t.throwsAsync(async () => (await keystore.open(tokenKey())).sign(DATA), { instanceOf: AuthError });
    t.is(error.code, 'PIN_AMBIGUOUS');
  } finally {
    await keystore.close();
  }
  t.deepEqual(await counters(), { cardTriesLeft: 3, tokenPin: 'ok' }, "the card's PIN was never tried on the token");
});

test.serial('a variable for another device is not used: no PIN is tried, and the error names the right variable and the one set', async (t) => {
  if (skip) return t.pass(skip);
  const other = 'KEYWARD_PIN_YUBIKEY_27182818';
  const keystore = new Keystore({ env: { [other]: CARD_PIN, [tokenVariable()]: TOKEN_PIN }, interaction: recordingInteraction([]) });
  const signed = await signWithBoth(keystore);
  t.true(signed.token instanceof Uint8Array, String(signed.token));
  const error = signed.card as AuthError;
  t.is(error.code, 'PIN_REQUIRED');
  t.regex(error.message, new RegExp(`^the PIN of YubiKey ${CARD_SERIAL} \\(firmware 5\\.7\\.1\\).* is needed`));
  t.is(
    error.hint,
    `set ${cardVariable} (this device's own) or KEYWARD_PIN, or put it in a file and add ?pin-source=file:/path/to/file to the URI; set here, for other devices: ${tokenVariable()}, ${other}`,
  );
  t.is((await counters()).cardTriesLeft, 3);
});

/** A person at a terminal: answers the confirmation with `answer` and PIN prompts with `pins`, recording both. */
function person(answer: boolean, pins: Record<string, string>, asked: string[]): Interaction {
  return {
    ...recordingInteraction([]),
    confirm: async (question) => {
      asked.push(question);
      return answer;
    },
    askSecret: async (prompt) => {
      asked.push(prompt);
      const match = Object.entries(pins).find(([device]) => prompt.includes(device));
      return match && Secret.fromString(match[1]);
    },
  };
}

test.serial('at a terminal, KEYWARD_PIN for a second device is offered, not spent: no means a prompt that names the device', async (t) => {
  if (skip) return t.pass(skip);
  const asked: string[] = [];
  const keystore = new Keystore({ env: { KEYWARD_PIN: TOKEN_PIN }, interaction: person(false, { [`YubiKey ${CARD_SERIAL}`]: CARD_PIN }, asked) });
  const signed = await signWithBoth(keystore);
  t.true(signed.token instanceof Uint8Array && signed.card instanceof Uint8Array, String(signed.card));
  t.deepEqual(asked, [
    `KEYWARD_PIN went to token "${token.label}" (serial ${token.serial}) in this command. Try it on YubiKey ${CARD_SERIAL} (firmware 5.7.1) too? (No: you are asked for this one's PIN)`,
    `Enter the PIN of YubiKey ${CARD_SERIAL} (firmware 5.7.1):`,
  ]);
  t.deepEqual(await counters(), { cardTriesLeft: 3, tokenPin: 'ok' });
});

test.serial('at a terminal, yes tries KEYWARD_PIN on the second device too (same PIN on both), asked once', async (t) => {
  if (skip) return t.pass(skip);
  const asked: string[] = [];
  // The token's PIN, changed to the card's for this test and back after.
  const change = async (from: string, to: string) => {
    const keystore = new Keystore({ env: { [tokenVariable()]: from }, interaction: recordingInteraction([]) });
    await (await keystore.administration('pkcs11')).changePin(`pkcs11:token=${token.label}`, Secret.fromString(to));
    await keystore.close();
  };
  await change(TOKEN_PIN, CARD_PIN);
  t.teardown(() => change(CARD_PIN, TOKEN_PIN));
  const keystore = new Keystore({ env: { KEYWARD_PIN: CARD_PIN }, interaction: person(true, {}, asked) });
  // Closed between rounds, the devices ask again (a new login, a new card session): the answer holds for the keystore.
  for (let i = 0; i < 2; i++) {
    try {
      t.true((await (await keystore.open(tokenKey())).sign(DATA)) instanceof Uint8Array);
      t.true((await (await keystore.open(cardKey)).sign(DATA)) instanceof Uint8Array);
    } finally {
      await keystore.close();
    }
  }
  t.is(asked.length, 1, asked.join('\n'));
  t.regex(asked[0]!, /^KEYWARD_PIN went to token ".*" \(serial .*\) in this command\. Try it on YubiKey \d+ \(firmware 5\.7\.1\) too\?/);
});

test.serial('key list over two tokens with only KEYWARD_PIN: the first logs in, the other shows its public objects, its PIN untried', async (t) => {
  if (skip) return t.pass(skip);
  const setUp = new Keystore({ env: {}, interaction: recordingInteraction([]) });
  const label = uniqueLabel('pins-other');
  const other = (await setUp.administration('pkcs11')).initToken('pkcs11:', {
    label,
    soPin: Secret.fromString(SO_PIN),
    userPin: Secret.fromString('other-pin-2'),
  });
  await setUp.close();
  const withOwn = new Keystore({ env: { [other.pinVariable!]: 'other-pin-2' }, interaction: recordingInteraction([]) });
  await withOwn.generate(`pkcs11:token=${label};object=o`, { algorithm: 'p256' });
  await withOwn.close();
  // KEYWARD_PIN is the PIN of whichever token the module lists first: the other one is the second device.
  const tokens = (await setUp.administration('pkcs11')).tokens().filter((s) => s.label === label || s.label === token.label);
  const [first, second] = tokens;
  const pins: Record<string, string> = { [label]: 'other-pin-2', [token.label]: TOKEN_PIN };
  const warnings: string[] = [];
  const keystore = new Keystore({ env: { KEYWARD_PIN: pins[first!.label] }, interaction: recordingInteraction(warnings) });
  const keys = await keystore.list('pkcs11:');
  await keystore.close();
  const types = (tokenLabel: string) => keys.filter((k) => k.details.token === tokenLabel).map((k) => k.details.objects);
  t.true(
    types(first!.label).some((objects) => (objects as string[]).includes('private')),
    'the first token was logged in to',
  );
  t.false(
    types(second!.label).some((objects) => (objects as string[]).includes('private')),
    'the second only shows its public objects',
  );
  t.true(types(second!.label).length > 0);
  t.deepEqual(warnings, [
    `no PIN for token "${second!.label}" (serial ${second!.serial}): listing its public objects only (KEYWARD_PIN went to token "${first!.label}" (serial ${first!.serial}); it is not tried on token "${second!.label}" (serial ${second!.serial}) too, which may have another PIN)`,
  ]);
  const after = (await setUp.administration('pkcs11')).tokens().find((s) => s.label === second!.label)!;
  t.is(after.userPin, 'ok', "the second token never saw the first one's PIN");
});

test('variable names: letters and digits kept, every other byte as _ and hex, so no two serials share one', (t) => {
  t.is(devicePinVariable('token', '9f3c1a2b4d5e6f70'), 'KEYWARD_PIN_TOKEN_9f3c1a2b4d5e6f70');
  t.is(devicePinVariable('yubikey', '12345678'), 'KEYWARD_PIN_YUBIKEY_12345678');
  t.is(devicePinVariable('token', 'A1-b2'), 'KEYWARD_PIN_TOKEN_A1_2Db2');
  t.is(devicePinVariable('token', 'A1_2Db2'), 'KEYWARD_PIN_TOKEN_A1_5F2Db2', 'an underscore in a serial is encoded too');
  t.is(devicePinVariable('token', 'SN 42é'), 'KEYWARD_PIN_TOKEN_SN_2042_C3_A9');
  t.is(devicePinVariable('token', ''), undefined);
  t.is(devicePinVariable('yubikey', undefined), undefined);
  for (const serial of ['a.b', 'a-b', 'a_b', 'a b', 'ab', 'AB', 'a_2Eb']) t.regex(devicePinVariable('token', serial)!, /^[A-Za-z_][A-Za-z0-9_]*$/);
  const names = ['a.b', 'a-b', 'a_b', 'a b', 'ab', 'AB', 'a_2Eb'].map((s) => devicePinVariable('token', s));
  t.is(new Set(names).size, names.length);
});
