/**
 * The parsers of src/image, which read what people type and what registries send: image
 * references, simple-signing payloads, `.sig` manifests, WWW-Authenticate challenges and Sigstore
 * bundles. Each either returns what it read or refuses with a Keyward error, never anything else,
 * whatever it is given; what Keyward writes it reads back unchanged.
 */
import test from 'ava';
import fc from 'fast-check';
import { generateKeyPairSync, sign } from 'node:crypto';
import { KeywardError } from '../../src/errors.js';
import { makeBundle, verifyBundle } from '../../src/image/bundle.js';
import { verifierKey } from '../../src/image/keys.js';
import { digestOf, formatReference, isLoopbackRegistry, parseImageReference } from '../../src/image/reference.js';
import { parseChallenge } from '../../src/image/registry.js';
import { makePayload, parsePayload, signatureLayers, signatureManifest, SIMPLE_SIGNING_MEDIA_TYPE } from '../../src/image/simple-signing.js';

const keywardOnly = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch (error) {
    return error instanceof KeywardError;
  }
};

const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).filter((c) => c.length > 0 && c.length < 30);
const host = fc.oneof(
  fc.constantFrom('localhost:5000', '127.0.0.1:5000', 'registry.example', 'ghcr.io', '[::1]:5000'),
  fc
    .tuple(
      component.filter((c) => /^[a-z0-9-]+$/.test(c) && !c.startsWith('-') && !c.endsWith('-')),
      fc.integer({ min: 1, max: 65535 }),
    )
    .map(([h, p]) => `${h}.example:${p}`),
);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${Buffer.from(b).toString('hex')}`);

test('image references: what formatReference writes parses back the same; anything else is refused with IMAGE_REFERENCE_INVALID', (t) => {
  fc.assert(
    fc.property(
      host,
      fc.array(component, { minLength: 1, maxLength: 3 }),
      fc.option(tag, { nil: undefined }),
      fc.option(digest, { nil: undefined }),
      (registry, parts, tg, dg) => {
        if (!tg && !dg) return true;
        const ref = { registry, repository: parts.join('/'), ...(tg ? { tag: tg } : {}), ...(dg ? { digest: dg } : {}) };
        const text = formatReference(ref);
        return JSON.stringify(parseImageReference(text)) === JSON.stringify(ref) && formatReference(parseImageReference(text)) === text;
      },
    ),
  );
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => keywardOnly(() => parseImageReference(text))));
  for (const bad of [
    'alpine',
    'library/alpine:3',
    'Registry.example/App:1',
    'registry.example/app',
    'registry.example/app@sha256:abc',
    'registry.example/app:-x',
  ]) {
    t.is(t.throws<KeywardError>(() => parseImageReference(bad))?.code, 'IMAGE_REFERENCE_INVALID', bad);
  }
  t.true(isLoopbackRegistry('127.0.0.1:5000') && isLoopbackRegistry('[::1]:5000') && isLoopbackRegistry('localhost'));
  t.false(isLoopbackRegistry('127.0.0.1.example:5000') || isLoopbackRegistry('registry.example'));
});

test('payloads: makePayload reads back; arbitrary bytes and JSON give a payload or SIGNATURE_PAYLOAD_INVALID', (t) => {
  fc.assert(
    fc.property(
      host,
      component,
      digest,
      (h, repo, d) => JSON.stringify(parsePayload(makePayload(`${h}/${repo}`, d))) === JSON.stringify({ dockerReference: `${h}/${repo}`, digest: d }),
    ),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => keywardOnly(() => parsePayload(bytes))));
  fc.assert(fc.property(fc.jsonValue(), (value) => keywardOnly(() => parsePayload(Buffer.from(JSON.stringify(value) ?? 'null')))));
  const extra = JSON.parse(makePayload('r.example/a', `sha256:${'0'.repeat(64)}`).toString());
  extra.critical.extra = 1;
  t.regex(t.throws(() => parsePayload(Buffer.from(JSON.stringify(extra))))!.message, /"critical" has unknown "extra"/);
  delete extra.critical.extra;
  delete extra.optional;
  t.regex(t.throws(() => parsePayload(Buffer.from(JSON.stringify(extra))))!.message, /the payload lacks "optional"/);
});

test('.sig manifests: what signatureManifest writes reads back; anything else is a manifest or REGISTRY_RESPONSE_INVALID', (t) => {
  const layers = [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: digestOf(Buffer.from('p')), size: 1, annotations: { a: 'b' } }];
  t.deepEqual(signatureLayers(JSON.parse(signatureManifest(layers).manifest.toString())), layers);
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => keywardOnly(() => signatureLayers(value))));
});

test('WWW-Authenticate: Bearer and Basic read, anything else undefined, never a throw', (t) => {
  t.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"'), {
    scheme: 'bearer',
    realm: 'https://auth.example/token',
    service: 'registry.example',
  });
  t.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic' });
  t.is(parseChallenge('Bearer service="no realm"'), undefined);
  t.is(parseChallenge('Bearer realm="not a url"'), undefined);
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (header) => keywardOnly(() => parseChallenge(header))));
});

test('Sigstore bundles: what makeBundle writes verifies; any other bytes are refused with a Keyward error', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = verifierKey(publicKey);
  const data = Buffer.from('a release');
  const bundle = Buffer.from(JSON.stringify(makeBundle(data, sign('sha256', data, privateKey), key.id)));
  t.is(verifyBundle(data, bundle, key).keyId, key.id);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => keywardOnly(() => verifyBundle(data, bytes, key))));
  fc.assert(fc.property(fc.jsonValue(), (value) => keywardOnly(() => verifyBundle(data, Buffer.from(JSON.stringify(value) ?? 'null'), key))));
});
