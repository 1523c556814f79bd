import test from 'ava';
import fc from 'fast-check';
import { UsageError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { formatPkcs11Uri, parsePkcs11Uri, redactUri, UriError, type Pkcs11Uri } from '../../src/keystore/uri.js';

// Printed by `p11tool --list-all --login` for a SoftHSM key (see ../shared/reference/pkcs11.md).
const P11TOOL_URI =
  'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=a7b2c3d4e5f60718;token=T;id=%11;object=K;type=private';

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
    'pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b'.replace(/vendor-/g, 'x-vendor-'),
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
