import test from 'ava';
import fc from 'fast-check';
import { UsageError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import {
  formatPkcs11Uri,
  MAX_URI_ATTRIBUTES,
  MAX_URI_LENGTH,
  parsePkcs11Uri,
  parseYubiKeyUri,
  redactUri,
  UriError,
  type Pkcs11Uri,
} from '../../src/keystore/uri/index.js';

// Printed by `p11tool --list-all --login` for a SoftHSM key (see ../shared/reference/pkcs11.md).
const P11TOOL_URI = 'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=a7b2c3d4e5f60718;token=T;id=%11;object=K;type=private';

test('a URI printed by p11tool parses verbatim', (t) => {
  const uri = parsePkcs11Uri(P11TOOL_URI);
  t.is(uri.model, 'SoftHSM v2');
  t.is(uri.manufacturer, 'SoftHSM project');
  t.is(uri.serial, 'a7b2c3d4e5f60718');
  t.is(uri.token, 'T');
  t.deepEqual([...uri.id!], [0x11]);
  t.is(uri.object, 'K');
  t.is(uri.type, 'private');
});

test('formatting prints what p11tool prints, id fully percent-encoded in upper case', (t) => {
  t.is(formatPkcs11Uri(parsePkcs11Uri(P11TOOL_URI)), P11TOOL_URI);
  t.is(formatPkcs11Uri({ token: 'a b', id: new Uint8Array([0x41, 0xfe]) }), 'pkcs11:token=a%20b;id=%41%FE');
});

test('query attributes: module-path keeps its slashes, pin-source is kept, pin-value is never printed', (t) => {
  const uri = parsePkcs11Uri('pkcs11:token=x?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin&pin-value=1234');
  t.is(uri.modulePath, '/usr/lib/softhsm/libsofthsm2.so');
  t.is(uri.pinSource, 'file:/run/pin');
  t.true(uri.pinValue instanceof Secret);
  t.is(uri.pinValue!.revealString(), '1234');
  t.is(formatPkcs11Uri(uri), 'pkcs11:token=x?pin-source=file:/run/pin&module-path=/usr/lib/softhsm/libsofthsm2.so');
});

test('RFC 7512 §3 examples parse', (t) => {
  const examples = [
    'pkcs11:',
    'pkcs11:object=my-pubkey;type=public',
    'pkcs11:object=my-key;type=private?pin-source=file:/etc/token',
    'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin',
    'pkcs11:object=my-sign-key;type=private?module-name=mypkcs11',
    'pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1',
    'pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin',
    'pkcs11:slot-description=Sun%20Metaslot',
    'pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23',
    'pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06',
    'pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert',
    'pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert',
    'pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b'.replace(
      /vendor-/g,
      'x-vendor-',
    ),
  ];
  for (const example of examples) t.notThrows(() => parsePkcs11Uri(example), example);
  t.is(parsePkcs11Uri(examples[3]!).token, 'The Software PKCS#11 Softtoken');
  t.is(parsePkcs11Uri(examples[11]!).token, 'Name with a small A with acute: á');
  t.deepEqual(parsePkcs11Uri(examples[12]!).vendor, { 'x-vendor-aaa': 'value-a', 'x-vendor-bbb': 'value-b' });
});

function faultAt(t: import('ava').ExecutionContext, input: string, position: number, reason: RegExp): UriError {
  const error = t.throws(() => parsePkcs11Uri(input), { instanceOf: UriError });
  t.is(error.position, position, `position of the fault in ${input}`);
  t.regex(error.message, reason);
  t.true(error instanceof UsageError);
  return error;
}

test('malformed URIs are rejected with the position of the fault', (t) => {
  faultAt(t, 'pkcs11:tokn=x', 7, /unknown attribute "tokn"/);
  faultAt(t, 'pkcs11:token=a;token=b', 15, /more than once/);
  faultAt(t, 'pkcs11:token=my token', 15, /a space is not allowed/);
  faultAt(t, 'pkcs11:id=%0G', 10, /two hex digits/);
  faultAt(t, 'pkcs11:id=%1', 10, /two hex digits/);
  faultAt(t, 'pkcs11:token', 7, /has no "=value"/);
  faultAt(t, 'pkcs11:token=a;;object=b', 15, /empty attribute/);
  faultAt(t, 'pkcs11:token=a;', 15, /empty attribute/);
  faultAt(t, 'pkcs11:type=secret', 12, /must be one of/);
  faultAt(t, 'pkcs11:slot-id=12a', 15, /decimal number/);
  faultAt(t, 'pkcs11:token=%FF', 13, /not valid UTF-8/);
  faultAt(t, 'pkcs11:token=a/b', 14, /"\/" is not allowed/);
  faultAt(t, 'pkcs12:token=a', 0, /starts with "pkcs11:"/);
  const misplaced = faultAt(t, 'pkcs11:module-path=/x', 7, /unknown attribute "module-path"/);
  t.regex(misplaced.hint!, /belongs in the query/);
});

test('the caret points at the fault, and a pin-value is never shown', (t) => {
  const error = t.throws(() => parsePkcs11Uri('pkcs11:token=x?pin-value=s3cret-PIN&modle-path=/x'), { instanceOf: UriError });
  t.false(error.message.includes('s3cret'));
  t.false(error.pointer().includes('s3cret'));
  t.false(JSON.stringify(error.toJSON()).includes('s3cret'));
  const [line, caret] = error.pointer().split('\n');
  t.is(line!.trim().slice(caret!.indexOf('^') - 2, caret!.indexOf('^') - 2 + 'modle-path'.length), 'modle-path');
});

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const uriArbitrary: fc.Arbitrary<Pkcs11Uri> = fc.record(
  {
    model: text,
    manufacturer: text,
    serial: text,
    token: text,
    slotId: fc.nat({ max: 2 ** 32 }),
    id: fc.uint8Array({ maxLength: 20 }),
    object: text,
    type: fc.constantFrom('public', 'private', 'cert', 'secret-key', 'data' as const),
    pinSource: text,
    moduleName: text,
    modulePath: text,
  },
  { requiredKeys: [] },
);

test('property: format then parse gives back every attribute', (t) => {
  fc.assert(
    fc.property(uriArbitrary, (uri) => {
      const parsed = parsePkcs11Uri(formatPkcs11Uri(uri));
      for (const [key, value] of Object.entries(uri)) {
        const back = parsed[key as keyof Pkcs11Uri];
        if (value instanceof Uint8Array) t.deepEqual([...(back as Uint8Array)], [...value]);
        else t.is(back, value as never);
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: any text either parses or fails with a UriError, never anything else', (t) => {
  const alphabet = fc.constantFrom(...'pkcs11:;?&=%/ab09-_.~xtokenobjectid'.split(''), 'type=', 'token=', '%2', 'é');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 40 }), fc.string({ maxLength: 40 }), (parts, noise) => {
      for (const input of [`pkcs11:${parts.join('')}`, parts.join(''), `pkcs11:${noise}`]) {
        try {
          parsePkcs11Uri(input);
        } catch (error) {
          if (!(error instanceof UriError)) throw error;
          t.true(error.position >= 0 && error.position <= input.length);
        }
      }
    }),
    { numRuns: 3000 },
  );
});

test('URIs in messages lose their pin-value, and keep everything else', (t) => {
  t.is(redactUri('pkcs11:token=a;object=k?pin-value=123456&module-name=softhsm2'), 'pkcs11:token=a;object=k?pin-value=***&module-name=softhsm2');
  t.is(redactUri('yubikey:slot=9c?pin-source=file:/run/pin&pin-value=9'), 'yubikey:slot=9c?pin-source=file:/run/pin&pin-value=***');
  t.is(redactUri('pkcs11:token=a'), 'pkcs11:token=a');
});

test('a PIN is redacted however its attribute is spelt or wherever it stands; pin-source stays', (t) => {
  const cases: Array<[string, string]> = [
    ['pkcs11:token=a;pin-value=123456;object=k', 'pkcs11:token=a;pin-value=***;object=k'],
    ['pkcs11:token=a?PIN-VALUE=123456', 'pkcs11:token=a?PIN-VALUE=***'],
    ['pkcs11:token=a?pin%2Dvalue=123456&module-name=m', 'pkcs11:token=a?pin%2Dvalue=***&module-name=m'],
    ['pkcs11:token=a?pin-valu=123456', 'pkcs11:token=a?pin-valu=***'],
    ['pkcs11:token=a?pinvalue=123456', 'pkcs11:token=a?pinvalue=***'],
    ['pkcs11:token=a?pin_value=123456', 'pkcs11:token=a?pin_value=***'],
    ['pkcs11:token=a?x-pin=123456', 'pkcs11:token=a?x-pin=***'],
    ['pkcs11:pin-value=123456', 'pkcs11:pin-value=***'],
    // Smuggled into another attribute's value, where the parser would accept it.
    ['pkcs11:token=a&pin-value=123456;object=k', 'pkcs11:token=a&pin-value=***;object=k'],
    ['pkcs11:token=a?module-path=/x?pin-value=123456&module-name=m', 'pkcs11:token=a?module-path=/x?pin-value=***&module-name=m'],
    ['pkcs11:token=a?module-name=m;pin-value=123456', 'pkcs11:token=a?module-name=m;pin-value=***'],
    // Separators inside the PIN that start no attribute are more of the PIN.
    ['pkcs11:token=a?pin-value=12&34;56?78&module-name=m', 'pkcs11:token=a?pin-value=***&module-name=m'],
    ['pkcs11:token=a;pin-value=12&34;56?78', 'pkcs11:token=a;pin-value=***'],
    ['pkcs11:token=a?pin-value=&module-name=m', 'pkcs11:token=a?pin-value=&module-name=m'],
    [
      'yubikey:slot=9c?pin-source=file:/run/pin&management-key-source=file:/run/mk',
      'yubikey:slot=9c?pin-source=file:/run/pin&management-key-source=file:/run/mk',
    ],
    ['pin-value=123456', 'pin-value=***'],
  ];
  for (const [input, shown] of cases) t.is(redactUri(input), shown, input);
});

test('a fault inside a PIN: the caret stops at "***" and the reason quotes nothing of it', (t) => {
  for (const input of [
    'pkcs11:token=a?pin-value=12%G4',
    'pkcs11:token=a?pin-value=12 34',
    'pkcs11:token=a?pin-value=12&34',
    'pkcs11:object=k&pin-value=12 34',
  ]) {
    const error = t.throws(() => parsePkcs11Uri(input), { instanceOf: UriError });
    const shown = `${error.message}\n${error.hint}\n${error.pointer()}\n${JSON.stringify(error.toJSON())}`;
    t.false(/[1-4]/.test(shown.replace(/position \d+|RFC 7512|PKCS#11|pkcs11|"position":\d+/g, '')), `${input}: ${shown}`);
    t.regex(error.message, /inside the value of "pin-value" \(not shown/);
    const [line, caret] = error.pointer().split('\n');
    t.is(line!.slice(caret!.indexOf('^'), caret!.indexOf('^') + 3), '***');
  }
  const slot = t.throws(() => parsePkcs11Uri('pkcs11:slot-id=1&pin-value=987654'), { instanceOf: UriError });
  t.regex(slot.message, /must be a decimal number, found "1&pin-value=\*\*\*"/);
  const type = t.throws(() => parseYubiKeyUri('yubikey:slot=9c&pin-value=987654'), { instanceOf: UriError });
  t.false(JSON.stringify(type.toJSON()).includes('987654'));
});

// Secrets are drawn from letters that appear nowhere else in these URIs (QZJW) and from the
// separators, so "no Q, Z, J or W in what is shown" means no part of a secret was shown. A secret
// holding "=" after a separator is ambiguous (it reads as a new attribute) and is left out.
const secretNames = fc.constantFrom(
  'pin-value',
  'PIN-VALUE',
  'pin%2Dvalue',
  'Pin%2dValue',
  'pin-valu',
  'pinvalue',
  'pin_value',
  'pin',
  'x-pin',
  'x-PIN-VALUE',
  'puk',
  'passphrase',
  'pin%252Dvalue',
);
const secretValue = fc
  .array(fc.constantFrom('Q', 'Z', 'J', 'W', 'Q', 'Z', ';', '&', '?', '%', ' '), { minLength: 1, maxLength: 12 })
  .map((cs) => `Q${cs.join('')}`);
const plainAttribute = fc
  .tuple(
    fc.constantFrom('token', 'object', 'type', 'slot-id', 'id', 'module-name', 'module-path', 'pin-source', 'tokn', 'x-vendor', 'serial'),
    fc.stringMatching(/^[a-p/:%]{0,6}$/),
    fc.boolean(),
  )
  .map(([name, value, withValue]) => (withValue ? `${name}=${value}` : name));
const separator = fc.constantFrom(';', '&', '?');

test('property: whatever the URI, no part of a PIN-like value is shown, parsed or not', (t) => {
  fc.assert(
    fc.property(
      fc.array(plainAttribute, { maxLength: 5 }),
      fc.nat(),
      secretNames,
      secretValue,
      fc.array(separator, { minLength: 6, maxLength: 6 }),
      (plain, at, name, secret, separators) => {
        const attributes = [...plain];
        attributes.splice(at % (plain.length + 1), 0, `${name}=${secret}`);
        const input = `pkcs11:${attributes.map((a, i) => (i === 0 ? a : `${separators[i]}${a}`)).join('')}`;
        const secretShown = (text: string) => /[QZJW]/.test(text);
        t.false(secretShown(redactUri(input)), input);
        try {
          parsePkcs11Uri(input);
        } catch (error) {
          if (!(error instanceof UriError)) throw error;
          t.false(secretShown(`${error.message}\n${error.hint}\n${error.pointer()}\n${JSON.stringify(error.toJSON())}`), input);
          t.true(error.displayPosition <= error.displayUri.length);
        }
      },
    ),
    { numRuns: 5000 },
  );
});

test('property: a URI Keyward prints is shown unchanged (nothing in it looks like a PIN)', (t) => {
  fc.assert(
    fc.property(uriArbitrary, (uri) => {
      const printed = formatPkcs11Uri(uri);
      t.is(redactUri(printed), printed);
    }),
    { numRuns: 1000 },
  );
});

test('bounds: a URI over the length limit is refused at the limit, before any parsing', (t) => {
  const attributes = Array.from({ length: 20_000 }, (_, i) => `x-a${i}=v`).join(';');
  const error = t.throws(() => parsePkcs11Uri(`pkcs11:token=a;${attributes}?pin-value=123456`), { instanceOf: UriError });
  t.is(error.position, MAX_URI_LENGTH);
  t.regex(error.message, new RegExp(`at position ${MAX_URI_LENGTH + 1}: the URI is \\d+ characters long; the limit is ${MAX_URI_LENGTH}`));
  t.true(error.pointer().length < 600, 'a long URI is shown as an excerpt around the fault');
  t.false(JSON.stringify(error.toJSON()).includes('123456'));
  t.notThrows(() => parsePkcs11Uri(`pkcs11:object=${'a'.repeat(MAX_URI_LENGTH - 'pkcs11:object='.length)}`));
});

test('bounds: more attributes than the limit are refused at the first one too many', (t) => {
  const attributes = Array.from({ length: MAX_URI_ATTRIBUTES + 1 }, (_, i) => `x-${i}=v`);
  const input = `pkcs11:${attributes.join(';')}`;
  const error = t.throws(() => parsePkcs11Uri(input), { instanceOf: UriError });
  t.is(error.position, input.indexOf(`x-${MAX_URI_ATTRIBUTES}=`));
  t.regex(error.message, new RegExp(`more attributes than the limit of ${MAX_URI_ATTRIBUTES}`));
  const vendor = parsePkcs11Uri(`pkcs11:${attributes.slice(1).join(';')}`).vendor!;
  t.is(Object.keys(vendor).length, MAX_URI_ATTRIBUTES);
});
