/**
 * The registry client against a registry that lies, a small HTTP server on 127.0.0.1 that answers
 * what no registry should: garbage, a huge manifest (declared, or trickling past the limit without
 * a length), content under the wrong digest, a payload that is not a payload. Each gets a clear
 * error, and signing stops before the device is asked. Also the token dance registries use:
 * Bearer tokens from a token service with Basic credentials, and Basic alone; plain HTTP only on
 * loopback.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorCode, KeywardError } from '../../src/errors.js';
import { makePayload, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signatureTag } from '../../src/image/simple-signing.js';
import { parseImageReference } from '../../src/image/reference.js';
import { LIMITS, MEDIA_TYPES, RegistryClient } from '../../src/image/registry.js';
import { signImage } from '../../src/image/sign.js';
import { imageSignatures } from '../../src/image/verify.js';
import { MemoryKeyHandle } from '../../src/keystore/memory-key.js';
import { Secret } from '../../src/secret.js';

const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: {}, layers: [] }));
const DIGEST = sha(MANIFEST);

type Route = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(routes: Record<string, Route>): Promise<{ host: string; close: () => Promise<void>; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    const route = routes[`${req.method} ${new URL(req.url!, 'http://x').pathname}`] ?? routes[`* ${new URL(req.url!, 'http://x').pathname}`];
    if (route) route(req, res);
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const manifestRoute =
  (body: Buffer | string, type: string = MEDIA_TYPES.ociManifest, headers: Record<string, string> = {}): Route =>
  (_req, res) =>
    res.writeHead(200, { 'content-type': type, ...headers }).end(body);

/** A key that counts the signatures asked of it: signing must stop before the device is asked. */
function countingKey(): { key: MemoryKeyHandle; asked: () => number } {
  const key = new MemoryKeyHandle('p256', 'counting');
  let asked = 0;
  const sign = key.sign.bind(key);
  key.sign = async (data, options) => {
    asked++;
    return sign(data, options);
  };
  return { key, asked: () => asked };
}

test('garbage, a huge manifest, and content under the wrong digest are refused, and the device is never asked', async (t) => {
  const huge = Buffer.alloc(LIMITS.manifestBytes + 1, 0x20);
  const server = await serve({
    'GET /v2/demo/garbage/manifests/1': manifestRoute('<html>not a registry</html>', 'text/html'),
    'GET /v2/demo/notjson/manifests/1': manifestRoute('{"schemaVersion": 2,'),
    'GET /v2/demo/huge/manifests/1': manifestRoute(huge, MEDIA_TYPES.ociManifest, { 'content-length': String(huge.length) }),
    'GET /v2/demo/trickle/manifests/1': (_req, res) => {
      // No length declared: the client must stop reading at the limit, not after the whole body.
      res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest });
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let sent = 0;
      const more = () => {
        while (sent < 64 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    },
    'GET /v2/demo/liar/manifests/1': manifestRoute(MANIFEST, MEDIA_TYPES.ociManifest, { 'docker-content-digest': sha('something else') }),
    [`GET /v2/demo/liar/manifests/${sha('asked for')}`]: manifestRoute(MANIFEST),
    'GET /v2/demo/error/manifests/1': (_req, res) =>
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"storage \\u001b[31mexploded"}]}'),
  });
  t.teardown(() => server.close());
  const client = new RegistryClient({ registry: server.host, plainHttp: true });
  const cases: Array<[string, ErrorCode, RegExp]> = [
    ['demo/garbage:1', 'REGISTRY_RESPONSE_INVALID', /came as "text\/html", not an image manifest or index/],
    ['demo/notjson:1', 'REGISTRY_RESPONSE_INVALID', /is not a JSON manifest of schemaVersion 2/],
    [
      'demo/huge:1',
      'REGISTRY_RESPONSE_TOO_LARGE',
      new RegExp(`sent ${huge.length} bytes for the manifest demo/huge:1; Keyward reads at most ${LIMITS.manifestBytes}`),
    ],
    ['demo/trickle:1', 'REGISTRY_RESPONSE_TOO_LARGE', /sent more than 4194304 bytes/],
    ['demo/liar:1', 'REGISTRY_DIGEST_MISMATCH', /says the manifest demo\/liar:1 is sha256:.*, but what it sent is/],
    [`demo/liar@${sha('asked for')}`, 'REGISTRY_DIGEST_MISMATCH', /answered the manifest .* with other content/],
    ['demo/error:1', 'REGISTRY_HTTP_STATUS', /answered HTTP 500 to the manifest demo\/error:1: UNKNOWN storage \?\[31mexploded/],
    ['demo/absent:1', 'IMAGE_NOT_FOUND', /has no image .*demo\/absent:1/],
  ];
  const { key, asked } = countingKey();
  for (const [name, code, message] of cases) {
    const error = await t.throwsAsync<KeywardError>(signImage({ client, reference: parseImageReference(`${server.host}/${name}`), key }));
    t.is(error?.code, code, name);
    t.regex(error!.message, message, name);
  }
  t.is(asked(), 0, 'the device was never asked');
  t.false(
    server.hits.some((h) => !h.startsWith('GET ')),
    'nothing was written',
  );
});

test('a .sig that is not what it should be: each bad signature is reported, none counts', async (t) => {
  const payload = makePayload('somewhere/else', DIGEST);
  const notPayload = Buffer.from(
    '{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature","extra":1},"optional":null}',
  );
  const layers = [
    { mediaType: 'application/octet-stream', digest: sha(payload), size: payload.length, annotations: { [SIGNATURE_ANNOTATION]: 'AAAA' } },
    { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: sha(payload), size: 10 * 1024 * 1024, annotations: { [SIGNATURE_ANNOTATION]: 'AAAA' } },
    { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: sha(payload), size: payload.length, annotations: { [SIGNATURE_ANNOTATION]: 'AAAA' } },
    { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: sha(notPayload), size: notPayload.length, annotations: { [SIGNATURE_ANNOTATION]: 'AAAA' } },
    { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: sha('lost'), size: 4, annotations: { [SIGNATURE_ANNOTATION]: 'AAAA' } },
  ];
  const sig = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: {}, layers }));
  const server = await serve({
    'GET /v2/demo/app/manifests/1': manifestRoute(MANIFEST),
    [`GET /v2/demo/app/manifests/${signatureTag(DIGEST)}`]: manifestRoute(sig),
    [`GET /v2/demo/app/blobs/${sha(payload)}`]: (_req, res) => res.writeHead(200).end(payload),
    // A blob served under a digest it does not have.
    [`GET /v2/demo/app/blobs/${sha(notPayload)}`]: (_req, res) => res.writeHead(200).end(notPayload),
  });
  t.teardown(() => server.close());
  const client = new RegistryClient({ registry: server.host, plainHttp: true });
  const listed = await imageSignatures(client, parseImageReference(`${server.host}/demo/app:1`), []);
  t.deepEqual(
    listed.signatures.map((s) => s.problem?.replace(/sha256:[0-9a-f]{64}/g, 'D')),
    [
      `its media type is application/octet-stream, not ${SIMPLE_SIGNING_MEDIA_TYPE}`,
      'its payload is 10485760 bytes, more than the 65536 Keyward reads',
      `it names somewhere/else, not ${server.host}/demo/app`,
      'a signature payload is not a simple-signing payload: "critical" has unknown "extra"',
      `${server.host} has no blob D of demo/app`,
    ],
  );
});

test('Bearer tokens from the token service (with Basic credentials), Basic alone, and wrong credentials refused clearly', async (t) => {
  const password = 'correct horse';
  const basic = `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`;
  let host = '';
  const scopes: string[] = [];
  const server = await serve({
    'GET /token': (req, res) => {
      const url = new URL(req.url!, 'http://x');
      scopes.push(`${url.searchParams.get('service')} ${url.searchParams.get('scope')}`);
      if (req.headers.authorization !== basic) return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'opaque-token-1' }));
    },
    'GET /v2/bearer/app/manifests/1': (req, res) => {
      if (req.headers.authorization !== 'Bearer opaque-token-1') {
        return void res
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry",scope="repository:bearer/app:pull"` })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      }
      manifestRoute(MANIFEST)(req, res);
    },
    'GET /v2/basic/app/manifests/1': (req, res) => {
      if (req.headers.authorization !== basic) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      manifestRoute(MANIFEST)(req, res);
    },
  });
  host = server.host;
  t.teardown(() => server.close());
  const as = (pw?: string) => new RegistryClient({ registry: host, plainHttp: true, ...(pw ? { username: 'alice', password: Secret.fromString(pw) } : {}) });

  t.is((await as(password).manifest('bearer/app', '1'))?.digest, DIGEST);
  t.deepEqual(scopes, ['test-registry repository:bearer/app:pull']);
  t.is((await as(password).manifest('basic/app', '1'))?.digest, DIGEST);

  const wrong = await t.throwsAsync<KeywardError>(as('wrong').manifest('bearer/app', '1'));
  t.is(wrong?.code, 'REGISTRY_AUTH');
  t.regex(wrong!.message, /the token service http:\/\/127\.0\.0\.1:\d+ refused a token for repository:bearer\/app:pull \(HTTP 401\)/);
  t.is(wrong?.exitCode, 4);
  const anonymous = await t.throwsAsync<KeywardError>(as().manifest('basic/app', '1'));
  t.is(anonymous?.code, 'REGISTRY_AUTH');
  t.regex(anonymous!.hint ?? '', /--username and --password-file/);
});

test('plain HTTP only to this machine; a reference always names its registry', (t) => {
  const refused = t.throws<KeywardError>(() => new RegistryClient({ registry: 'registry.example', plainHttp: true }));
  t.is(refused?.code, 'REGISTRY_PLAIN_HTTP_REFUSED');
  for (const host of ['127.0.0.1:5000', 'localhost:5000', '[::1]:5000', '127.1.2.3'])
    t.notThrows(() => new RegistryClient({ registry: host, plainHttp: true }), host);
  const noRegistry = t.throws<KeywardError>(() => parseImageReference('library/alpine:3'));
  t.is(noRegistry?.code, 'IMAGE_REFERENCE_INVALID');
});
