/**
 * Keys made for backup (`backup: 'wrap'`) and their copy to a second SoftHSM token under wrap: the
 * attributes read back from the token, the copy signing what the original's public key verifies,
 * the refusals (a key made without it, the same token twice, a wrong SO PIN) before anything
 * changes, and the token itself refusing to let the key out under a key its SO did not trust.
 */
import test, { type ExecutionContext } from 'ava';
import { createDecipheriv, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { ALGORITHMS, nodeHashName, type KeyAlgorithm } from '../../src/crypto/algorithms.js';
import type { KeywardError } from '../../src/errors.js';
import { findKeys } from '../../src/hsm/pkcs11/keys.js';
import { Pkcs11Module, resolveModulePath } from '../../src/hsm/pkcs11/module.js';
import { destroySessionObjects } from '../../src/hsm/pkcs11/wrap.js';
import type { Token } from '../../src/hsm/pkcs11/token.js';
import { devicePinVariable, tokenSoPinVariable } from '../../src/keystore/device-pins.js';
import type { Interaction } from '../../src/keystore/interaction.js';
import { Keystore } from '../../src/keystore/keystore.js';
import type { KeyCopyRequest, KeyCopyStep } from '../../src/keystore/pkcs11/key-copy.js';
import { KeyUri } from '../../src/keystore/uri/origin.js';
import { parsePkcs11Uri } from '../../src/keystore/uri/index.js';
import { Secret } from '../../src/secret.js';
import { createTestToken, recordingInteraction, softHsmModule, type TestToken } from '../../src/testing/softhsm.js';

const DATA = Buffer.from('signed by the copy\n');
const codeOf = (error: unknown) => (error as KeywardError).code;
const serialOf = (token: TestToken) => parsePkcs11Uri(token.uri).serial!;

/** The token behind a test token, for reading what is on it. */
function tokenOf(test: TestToken): Token {
  return Pkcs11Module.open(resolveModulePath({ explicit: softHsmModule() }))
    .tokens()
    .find((t) => t.label === test.label)!;
}

/** Every object on a token (logged in as its user), to show a refused copy changed nothing. */
function objects(test: TestToken): string[] {
  return findKeys(tokenOf(test)).map((k) => `${k.label}:${[k.privateKey && 'private', k.publicKey && 'public'].filter(Boolean).join('+')}`);
}

/** The trusted objects on a token: what an SO's trust makes for a copy, and what must not outlive it. */
const trustedObjects = (test: TestToken) => tokenOf(test).findObjects([{ type: pkcs11js.CKA_TRUSTED, value: true }]);

/** One keystore for both tokens, each with its own user PIN, and the source's SO PIN unless told otherwise. */
function pairKeystore(source: TestToken, backup: TestToken, options: { soPin?: string | null; interaction?: Interaction } = {}): Keystore {
  return new Keystore({
    env: {
      [devicePinVariable('token', serialOf(source))!]: source.userPin,
      [devicePinVariable('token', serialOf(backup))!]: backup.userPin,
      ...(options.soPin === null ? {} : { [tokenSoPinVariable(serialOf(source))!]: options.soPin ?? source.soPin }),
    },
    pkcs11Module: softHsmModule(),
    ...(options.interaction ? { interaction: options.interaction } : {}),
  });
}

async function pair(t: { teardown(f: () => unknown): void }) {
  const source = await createTestToken();
  const backup = await createTestToken();
  t.teardown(() => Promise.all([source.close(), backup.close()]));
  return { source, backup };
}

/**
 * Two tokens, a P-256 key "root" made for backup on the first, and one keystore for both (its
 * interaction as given); `copy` copies that key to the backup token under `label`.
 */
async function rootToCopy(t: ExecutionContext, options: { interaction?: Interaction } = {}) {
  const { source, backup } = await pair(t);
  await source.keystore.generate(source.keyUri('root'), { algorithm: 'p256', backup: 'wrap' });
  const keystore = pairKeystore(source, backup, options);
  t.teardown(() => keystore.close());
  const administration = await keystore.administration('pkcs11');
  const copy = (label = 'root', request: Omit<KeyCopyRequest, 'source' | 'destination'> = {}) =>
    administration.copyKey({ source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(backup.keyUri(label)), ...request });
  return { source, backup, copy };
}

/** Whether `signature` over DATA verifies with `spki` (the original key's public key). */
function verifies(algorithm: KeyAlgorithm, spki: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  return verify(nodeHashName(ALGORITHMS[algorithm].defaultHash), DATA, key, signature);
}

test('a key made with backup: wrap reads back sensitive and extractable only under a trusted wrap; by default a key never leaves', async (t) => {
  const { source } = await pair(t);
  const wrap = await source.keystore.generate(source.keyUri('root'), { algorithm: 'p384', backup: 'wrap' });
  t.is(wrap.info.backup, 'wrap');
  t.false(wrap.info.nonExtractable);
  t.like(wrap.info.details.attributes, { sensitive: true, extractable: true, wrapWithTrusted: true, sign: true, decrypt: false, unwrap: false, derive: false });
  const plain = await source.keystore.generate(source.keyUri('plain'), { algorithm: 'p384' });
  t.is(plain.info.backup, undefined);
  t.true(plain.info.nonExtractable);
  t.like(plain.info.details.attributes, { sensitive: true, extractable: false });
  const ed = await t.throwsAsync(source.keystore.generate(source.keyUri('ed'), { algorithm: 'ed25519', backup: 'wrap' }));
  t.is(codeOf(ed), 'BACKUP_UNSUPPORTED');
});

for (const algorithm of ['p256', 'p384', 'rsa2048'] as const) {
  test(`${algorithm}: copied under wrap, the copy signs what the original's public key verifies, as protected as the original`, async (t) => {
    const { source, backup } = await pair(t);
    const original = await source.keystore.generate(source.keyUri('root-2026'), { algorithm, backup: 'wrap' });
    const keystore = pairKeystore(source, backup);
    t.teardown(() => keystore.close());
    const steps: Array<[KeyCopyStep, Record<string, unknown>]> = [];
    const asked: string[] = [];
    const result = await (
      await keystore.administration('pkcs11')
    ).copyKey({
      source: KeyUri.of(source.keyUri('root-2026')),
      destination: KeyUri.of(backup.keyUri('root-2026')),
      step: (step, data) => void steps.push([step, data]),
      confirm: async (question) => (asked.push(question), true),
    });
    t.true(result.copied);
    t.deepEqual(
      steps.map(([step]) => step),
      ['source-checked', 'transport-made', 'transport-trusted', 'key-wrapped', 'key-unwrapped'],
    );
    t.regex(asked[0]!, /Security Officer of token .*: trust the transport key .* \(sha256 [0-9a-f]{64}\)/);
    t.regex(asked[1]!, /Make the copy "root-2026" on token/);
    t.like(steps[4]![1], { attributes: { sensitive: true, extractable: true, wrapWithTrusted: true, local: false } });
    t.is(steps[4]![1].spkiSha256, steps[0]![1].spkiSha256, "the copy's public key is the original's");

    const copy = await keystore.open(backup.keyUri('root-2026'));
    t.deepEqual(Buffer.from(await copy.publicKey()), Buffer.from(await original.publicKey()));
    t.is(copy.info.backup, 'wrap');
    t.like(copy.info.details.attributes, {
      sensitive: true,
      extractable: true,
      wrapWithTrusted: true,
      sign: true,
      decrypt: false,
      unwrap: false,
      derive: false,
    });
    t.true(verifies(algorithm, await original.publicKey(), await copy.sign(DATA)), "the copy's signature verifies with the original's public key");
    t.false(verifies(algorithm, await original.publicKey(), await copy.sign(Buffer.from('other'))), 'and the check can fail');
    t.deepEqual(objects(backup), ['root-2026:private+public'], 'no transport key left on the backup token');
    const ephemeral = tokenOf(source).findObjects([{ type: pkcs11js.CKA_TRUSTED, value: true }]);
    t.deepEqual(ephemeral, [], 'no trusted wrapping key left on the source token');
  });
}

test.serial('every ephemeral wrapping key of a copy is fixed: not modifiable, not copyable, and the token refuses to widen its use', async (t) => {
  const { source, backup, copy } = await rootToCopy(t);
  // Each session object the copy makes on either token is tried as it is made: could anyone with
  // its handle give it another use (decrypt with the AES key, encrypt with the transport key)?
  // The module is the process's: serial, so no other test's calls meet these.
  const lib = tokenOf(source).lib;
  const sessions = [tokenOf(source).session(), tokenOf(backup).session()];
  const seen: Array<{ class: number; modifiable: boolean; copyable: boolean; widened: boolean }> = [];
  const tryToWiden = (session: Buffer, handle: Buffer) => {
    if (!sessions.some((s) => s.equals(session))) return;
    const [cls, token, modifiable, copyable] = lib
      .C_GetAttributeValue(
        session,
        handle,
        [pkcs11js.CKA_CLASS, pkcs11js.CKA_TOKEN, pkcs11js.CKA_MODIFIABLE, pkcs11js.CKA_COPYABLE].map((type) => ({ type })),
      )
      .map(({ value }) => value as Buffer);
    if (token![0]) return; // the copy itself and its public key: token objects, checked elsewhere
    const type = cls!.readUInt32LE(0) === pkcs11js.CKO_PUBLIC_KEY ? pkcs11js.CKA_ENCRYPT : pkcs11js.CKA_DECRYPT;
    try {
      lib.C_SetAttributeValue(session, handle, [{ type, value: true }]);
    } catch {
      // Refused: what is read back below says so.
    }
    const [after] = lib.C_GetAttributeValue(session, handle, [{ type }]);
    seen.push({ class: cls!.readUInt32LE(0), modifiable: modifiable![0] === 1, copyable: copyable![0] === 1, widened: (after!.value as Buffer)[0] === 1 });
  };
  const original = { generatePair: lib.C_GenerateKeyPairAsync, create: lib.C_CreateObject, generate: lib.C_GenerateKey, unwrap: lib.C_UnwrapKey };
  lib.C_GenerateKeyPairAsync = (async (
    session: Buffer,
    mechanism: pkcs11js.Mechanism,
    publicTemplate: pkcs11js.Template,
    privateTemplate: pkcs11js.Template,
  ) => {
    const pair = await original.generatePair.call(lib, session, mechanism, publicTemplate, privateTemplate);
    for (const handle of [pair.publicKey, pair.privateKey]) tryToWiden(session, handle);
    return pair;
  }) as typeof lib.C_GenerateKeyPairAsync;
  const spy =
    <A extends unknown[]>(call: (session: Buffer, ...rest: A) => Buffer) =>
    (session: Buffer, ...rest: A) => {
      const handle = call.call(lib, session, ...rest);
      tryToWiden(session, handle);
      return handle;
    };
  lib.C_CreateObject = spy(original.create) as typeof lib.C_CreateObject;
  lib.C_GenerateKey = spy(
    original.generate as (session: Buffer, mechanism: pkcs11js.Mechanism, template: pkcs11js.Template) => Buffer,
  ) as typeof lib.C_GenerateKey;
  lib.C_UnwrapKey = spy(
    original.unwrap as (session: Buffer, mechanism: pkcs11js.Mechanism, key: Buffer, wrapped: Buffer, template: pkcs11js.Template) => Buffer,
  ) as typeof lib.C_UnwrapKey;
  try {
    await copy();
  } finally {
    Object.assign(lib, {
      C_GenerateKeyPairAsync: original.generatePair,
      C_CreateObject: original.create,
      C_GenerateKey: original.generate,
      C_UnwrapKey: original.unwrap,
    });
  }
  t.deepEqual(
    seen.map((object) => object.class),
    [pkcs11js.CKO_PUBLIC_KEY, pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY, pkcs11js.CKO_SECRET_KEY, pkcs11js.CKO_SECRET_KEY],
    'the transport pair, the trusted transport public key and AES key, the AES key unwrapped on the backup token',
  );
  for (const object of seen) t.like(object, { modifiable: false, copyable: false, widened: false });
});

test('a key made without backup: wrap is refused before anything changes on either token', async (t) => {
  const { source, backup } = await pair(t);
  await source.keystore.generate(source.keyUri('root'), { algorithm: 'p384' });
  const keystore = pairKeystore(source, backup, { soPin: null });
  t.teardown(() => keystore.close());
  const error = await t.throwsAsync(
    (await keystore.administration('pkcs11')).copyKey({ source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(backup.keyUri('root')) }),
  );
  t.is(codeOf(error), 'KEY_NOT_WRAPPABLE');
  t.regex(error!.message, /cannot be copied under wrap: it was made non-extractable: it can never leave its token/);
  t.regex((error as KeywardError).hint ?? '', /backup: wrap/);
  t.deepEqual(objects(backup), [], 'nothing was made on the backup token');
  t.deepEqual(objects(source), ['root:private+public']);
});

test('the token itself refuses to wrap the key under a key its Security Officer did not trust, and the user cannot mark one trusted', async (t) => {
  const { source } = await pair(t);
  await source.keystore.generate(source.keyUri('root'), { algorithm: 'p256', backup: 'wrap' });
  const token = tokenOf(source);
  const lib = token.lib;
  const session = token.session();
  const [key] = findKeys(token, { label: 'root', kind: 'private' });
  const aes = (trusted: boolean) => [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    ...(trusted ? [{ type: pkcs11js.CKA_TRUSTED, value: true }] : []),
  ];
  const wrapWith = (wrapping: Buffer) => () =>
    lib.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, wrapping, key!.privateKey!, Buffer.alloc(4096));
  // The user: an AES key of their own cannot carry the key out, nor be made trusted.
  const untrusted = lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, aes(false));
  t.throws(wrapWith(untrusted), { message: 'CKR_KEY_NOT_WRAPPABLE' });
  t.throws(() => lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, aes(true)), { message: 'CKR_ATTRIBUTE_READ_ONLY' });
  t.throws(() => lib.C_SetAttributeValue(session, untrusted, [{ type: pkcs11js.CKA_TRUSTED, value: true }]), { message: /^CKR_ATTRIBUTE_READ_ONLY/ });
  // The same key made trusted by the Security Officer does (what the copy relies on).
  token.logout();
  token.login(Secret.fromString(source.soPin), { userType: 'so' });
  const trusted = lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, aes(true));
  token.logout();
  token.login(Secret.fromString(source.userPin));
  const [again] = findKeys(token, { label: 'root', kind: 'private' });
  t.true(lib.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, trusted, again!.privateKey!, Buffer.alloc(4096)).length > 32);
  for (const handle of [untrusted, trusted]) lib.C_DestroyObject(session, handle);
});

test("the SO PIN alone takes a backup: wrap key out in the clear, which is why the docs keep it under the key's custody", async (t) => {
  const { source } = await pair(t);
  const made = await source.keystore.generate(source.keyUri('root'), { algorithm: 'p256', backup: 'wrap' });
  const token = tokenOf(source);
  const lib = token.lib;
  const session = token.session();
  // The SO: a trusted AES key whose value it knows, and a user PIN of its own choosing.
  const known = randomBytes(32);
  token.logout();
  token.login(Secret.fromString(source.soPin), { userType: 'so' });
  const trusted = lib.C_CreateObject(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VALUE, value: known },
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_TRUSTED, value: true },
  ]);
  lib.C_InitPIN(session, 'chosen-by-the-so');
  token.logout();
  token.login(Secret.fromString('chosen-by-the-so'));
  const [key] = findKeys(token, { label: 'root', kind: 'private' });
  const wrapped = lib.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, trusted, key!.privateKey!, Buffer.alloc(4096));
  lib.C_DestroyObject(session, trusted);
  // Off the token: RFC 5649 unwrapped with the value the SO knows, and the key signs.
  const decipher = createDecipheriv('id-aes256-wrap-pad', known, Buffer.from('a65959a6', 'hex'));
  const clear = createPrivateKey({ key: Buffer.concat([decipher.update(wrapped), decipher.final()]), format: 'der', type: 'pkcs8' });
  t.true(verifies('p256', await made.publicKey(), sign('sha256', DATA, clear)), 'the key, in the clear, is the one on the token');
});

test('the same token twice, a wrong SO PIN, and a label taken on the backup token are refused; a refused copy leaves nothing behind', async (t) => {
  const { source, backup } = await pair(t);
  await source.keystore.generate(source.keyUri('root'), { algorithm: 'p256', backup: 'wrap' });
  const same = pairKeystore(source, backup);
  t.teardown(() => same.close());
  const twice = await t.throwsAsync(
    (await same.administration('pkcs11')).copyKey({ source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(source.keyUri('copy')) }),
  );
  t.is(codeOf(twice), 'KEY_COPY_SAME_TOKEN');

  const wrongSo = pairKeystore(source, backup, { soPin: 'not-the-so-pin' });
  t.teardown(() => wrongSo.close());
  const wrong = await t.throwsAsync(
    (await wrongSo.administration('pkcs11')).copyKey({ source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(backup.keyUri('root')) }),
  );
  t.is(codeOf(wrong), 'PIN_INCORRECT');
  t.regex(wrong!.message, /wrong SO PIN/);
  t.deepEqual(objects(backup), [], 'no copy, no transport key, no public key left');

  // Nobody to ask for the SO PIN: the prompt's absence is said, with where the PIN could come from.
  const prompts: string[] = [];
  const noSo = pairKeystore(source, backup, {
    soPin: null,
    interaction: {
      askSecret: async (p) => void prompts.push(p),
      confirm: async () => undefined,
      warn: () => undefined,
      notice: () => ({ clear: () => undefined }),
    },
  });
  t.teardown(() => noSo.close());
  const none = await t.throwsAsync(
    (await noSo.administration('pkcs11')).copyKey({ source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(backup.keyUri('root')) }),
  );
  t.is(codeOf(none), 'PIN_REQUIRED');
  t.regex(prompts[0]!, /^Enter the SO PIN of token ".*" \(serial [0-9a-f]+\):$/);
  t.regex(
    (none as KeywardError).hint ?? '',
    /KEYWARD_SO_PIN_TOKEN_[0-9a-f]+ \(this device's own\) or KEYWARD_SO_PIN, or give its file \(--so-pin-source file:…\)/,
  );

  await backup.keystore.generate(backup.keyUri('root'), { algorithm: 'p256' });
  const taken = await t.throwsAsync(
    (await same.administration('pkcs11')).copyKey({ source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(backup.keyUri('root')) }),
  );
  t.is(codeOf(taken), 'LABEL_IN_USE');
  t.deepEqual(objects(backup), ['root:private+public'], 'the key there is left as it was');
});

test("an object on the backup token with the source key's CKA_ID (an earlier copy under another label) is refused before anything changes, resumed or not", async (t) => {
  const { backup, copy } = await rootToCopy(t);
  t.true((await copy('root-old')).copied);
  for (const resume of [false, true]) {
    const steps: KeyCopyStep[] = [];
    const error = await t.throwsAsync(copy('root', { resume, step: (step) => void steps.push(step) }));
    t.is(codeOf(error), 'ID_IN_USE', `resume ${String(resume)}`);
    t.regex(error!.message, /already has objects with the id of key "root" \(labelled "root-old"\)/);
    t.deepEqual(steps, ['source-checked'], 'refused before any transport key is made');
  }
  t.deepEqual(objects(backup), ['root-old:private+public'], 'the earlier copy is left as it was, and no second one made');
});

test('a key swapped on the source while its SO logs in is found by the URI again, and refused: another public key', async (t) => {
  const { source, backup, copy } = await rootToCopy(t);
  const steps: KeyCopyStep[] = [];
  const error = await t.throwsAsync(
    copy('root', {
      step: (step) => void steps.push(step),
      // While the room is asked to trust the transport key, the key under the URI is replaced.
      confirm: async (question) => {
        if (/trust the transport key/.test(question)) {
          await source.keystore.delete(source.keyUri('root'));
          await source.keystore.generate(source.keyUri('root'), { algorithm: 'p256', backup: 'wrap' });
        }
        return true;
      },
    }),
  );
  t.is(codeOf(error), 'KEY_COPY_SOURCE_CHANGED');
  t.regex(error!.message, /key "root" on token ".*" is not the key checked before the Security Officer logged in/);
  t.false(steps.includes('key-wrapped'), 'nothing was wrapped');
  t.deepEqual(objects(backup), [], 'no copy, no transport key left');
  t.deepEqual(trustedObjects(source), [], 'no trusted key left on the source');
});

test("a copy stopped after the SO's trust and before the wrap (the user's login again refused) leaves no trusted key on the source", async (t) => {
  const warnings: string[] = [];
  const { source, backup, copy } = await rootToCopy(t, { interaction: recordingInteraction(warnings) });
  const error = await t.throwsAsync(
    copy('root', {
      // While the room is asked, the source's user PIN changes: the login after the SO's is refused.
      confirm: async (question) => {
        if (/trust the transport key/.test(question)) tokenOf(source).changePin(Secret.fromString(source.userPin), Secret.fromString('changed-meanwhile'));
        return true;
      },
    }),
  );
  t.is(codeOf(error), 'PIN_INCORRECT');
  t.deepEqual(trustedObjects(source), [], 'the trusted transport and AES keys were destroyed');
  t.deepEqual(objects(backup), [], 'no transport key left on the backup token');
  t.deepEqual(warnings, []);
});

test.serial('an SO trust cut short after the transport key (C_GenerateKey failing) destroys the trusted transport key', async (t) => {
  const { source, backup, copy } = await rootToCopy(t);
  // SoftHSM offers no way to fail C_GenerateKey once C_CreateObject worked: on the source's session
  // (and no other: the module is the process's, and the test serial), the call fails as a full device would.
  const token = tokenOf(source);
  const lib = token.lib;
  const original = lib.C_GenerateKey;
  const generate = original.bind(lib);
  lib.C_GenerateKey = ((session: Buffer, mechanism: pkcs11js.Mechanism, template: pkcs11js.Template) => {
    if (session.equals(token.session())) throw new Error('CKR_DEVICE_MEMORY');
    return generate(session, mechanism, template);
  }) as typeof lib.C_GenerateKey;
  let error: Error | undefined;
  try {
    error = await t.throwsAsync(copy());
  } finally {
    lib.C_GenerateKey = original;
  }
  t.regex(error!.message, /make the trusted AES key of the copy/);
  t.deepEqual(trustedObjects(source), [], 'the trusted transport key made before it was destroyed');
  t.deepEqual(objects(backup), []);
});

test('an ephemeral object that cannot be destroyed is warned about, not passed over; one already gone is no loss', async (t) => {
  const { source } = await pair(t);
  const token = tokenOf(source);
  const kept = token.createObject(
    [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_DESTROYABLE, value: false },
    ],
    'test: an object the token will not destroy',
  );
  const gone = token.createObject(
    [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: false },
    ],
    'test: an object',
  );
  token.destroyObject(gone, 'test: destroy it');
  const warnings: string[] = [];
  destroySessionObjects(
    token,
    [
      [kept, 'kept object'],
      [gone, 'gone object'],
    ],
    (message) => void warnings.push(message),
  );
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /^could not destroy the kept object on token ".*" \(CKR_[A-Z_]+\); a session object is gone when this process ends$/);
});

test('KEYWARD_SO_PIN serves one token per command: a second source token is not given it unasked, and no SO try is spent', async (t) => {
  const [first, second, backup, again] = await Promise.all([createTestToken(), createTestToken(), createTestToken(), createTestToken()]);
  t.teardown(() => Promise.all([first, second, backup, again].map((token) => token.close())));
  for (const source of [first, second]) await source.keystore.generate(source.keyUri('root'), { algorithm: 'p256', backup: 'wrap' });
  const env = {
    ...Object.fromEntries([first, second, backup, again].map((token) => [devicePinVariable('token', serialOf(token))!, token.userPin])),
    KEYWARD_SO_PIN: first.soPin,
  };
  /** In one keystore (one command), the first token's key and then the second's, to `destination`. */
  const copyBoth = async (interaction: Interaction, destination: TestToken) => {
    const keystore = new Keystore({ env, pkcs11Module: softHsmModule(), interaction });
    try {
      const administration = await keystore.administration('pkcs11');
      const copy = (source: TestToken, label: string) =>
        administration.copyKey({ source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(destination.keyUri(label)) });
      t.true((await copy(first, 'first')).copied, 'KEYWARD_SO_PIN goes to the first source token');
      return await copy(second, 'second');
    } finally {
      await keystore.close();
    }
  };

  // Nobody to ask: refused before the second token's SO PIN is tried.
  const error = await t.throwsAsync(copyBoth(recordingInteraction([]), backup));
  t.is(codeOf(error), 'PIN_AMBIGUOUS');
  t.regex(error!.message, /^KEYWARD_SO_PIN went to token ".*" \(serial [0-9a-f]+\); it is not tried on token ".*" \(serial [0-9a-f]+\) too/);
  t.regex((error as KeywardError).hint ?? '', new RegExp(`set ${tokenSoPinVariable(serialOf(second))!} for token`));
  t.is(tokenOf(second).info().soPin, 'ok', "no try of the second token's SO PIN was spent");

  // A person at a terminal is asked, says no, and gives the second token's SO PIN.
  const asked: string[] = [];
  const person: Interaction = {
    askSecret: async (prompt) => (asked.push(prompt), Secret.fromString(second.soPin)),
    confirm: async (question) => (asked.push(question), false),
    warn: () => undefined,
    notice: () => ({ clear: () => undefined }),
  };
  t.true((await copyBoth(person, again)).copied);
  t.regex(asked[0]!, /^KEYWARD_SO_PIN went to token .* Try it on token .* too\?/);
  t.regex(asked[1]!, /^Enter the SO PIN of token ".*" \(serial [0-9a-f]+\):$/);
});

test('resumed, a copy made before the stop is found, not made again; half a copy (its public key only) is completed', async (t) => {
  const { source, backup } = await pair(t);
  await source.keystore.generate(source.keyUri('root'), { algorithm: 'p384', backup: 'wrap' });
  const keystore = pairKeystore(source, backup);
  t.teardown(() => keystore.close());
  const administration = await keystore.administration('pkcs11');
  const request = { source: KeyUri.of(source.keyUri('root')), destination: KeyUri.of(backup.keyUri('root')) };
  t.true((await administration.copyKey(request)).copied);
  const steps: KeyCopyStep[] = [];
  const again = await administration.copyKey({ ...request, resume: true, step: (step) => void steps.push(step) });
  t.false(again.copied);
  t.deepEqual(steps, ['source-checked', 'copy-found']);
  t.is(codeOf(await t.throwsAsync(administration.copyKey(request))), 'LABEL_IN_USE', 'without --resume a copy there is refused');
  t.deepEqual(objects(backup), ['root:private+public']);

  // The machine died between the public key and the unwrap: the resumed copy completes it.
  const token = tokenOf(backup);
  const [copy] = findKeys(token, { label: 'root' });
  token.destroyObject(copy!.privateKey!, 'test: remove the private half');
  const completed = await administration.copyKey({ ...request, resume: true });
  t.true(completed.copied);
  t.deepEqual(objects(backup), ['root:private+public']);
});
