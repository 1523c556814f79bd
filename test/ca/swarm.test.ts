/** `keyward ca swarm-command`'s reasoning: SwarmKit's rules for the URL and the certificate it is given. */
import test from 'ava';
import { rmSync } from 'node:fs';
import { serveCa } from '../../src/ca/server/serve.js';
import { checkExternalCa, externalCaUrl, swarmRotation } from '../../src/ca/swarm.js';
import { freePort } from '../../src/testing/ports.js';
import { CaDirectory } from '../../src/ca/store.js';
import { testCa } from '../harness/ca.js';
import { withServer } from '../harness/ca-server.js';

test("the URL SwarmKit is given: HTTPS, ending in cfssl's signing path, nothing else", (t) => {
  t.is(externalCaUrl('https://ca.example:8888'), 'https://ca.example:8888/api/v1/cfssl/sign');
  t.is(externalCaUrl('https://ca.example:8888/'), 'https://ca.example:8888/api/v1/cfssl/sign');
  t.is(externalCaUrl('https://[::1]:8888/api/v1/cfssl/sign'), 'https://[::1]:8888/api/v1/cfssl/sign');
  t.throws(() => externalCaUrl('http://ca.example:8888'), { code: 'SWARM_URL_NOT_HTTPS' });
  t.throws(() => externalCaUrl('ca.example:8888'), { code: 'SWARM_URL_NOT_HTTPS' });
  t.throws(() => externalCaUrl('not a url'), { code: 'SWARM_URL_INVALID' });
  t.throws(() => externalCaUrl('https://ca.example:8888/api/v1/cfssl/authsign'), { code: 'SWARM_URL_INVALID' });
  t.throws(() => externalCaUrl('https://user:pw@ca.example:8888'), { code: 'SWARM_URL_INVALID' });
});

test('the command names the cluster CA Swarm must trust, and refuses a directory that has none', async (t) => {
  const ca = await testCa(t);
  t.teardown(() => ca.close());
  const rotation = swarmRotation(ca.directory, 'https://127.0.0.1:8888');
  t.is(rotation.caCert, ca.directory.path('cluster-ca.pem'));
  t.is(
    rotation.command,
    `docker swarm ca --rotate --ca-cert ${rotation.caCert} --external-ca protocol=cfssl,url=https://127.0.0.1:8888/api/v1/cfssl/sign,cacert=${rotation.caCert}`,
  );
  rmSync(ca.directory.path('cluster-ca.pem'));
  t.throws(() => swarmRotation(ca.directory, 'https://127.0.0.1:8888'), { code: 'CA_NOT_FOR_SWARM' });
  t.throws(() => swarmRotation(new CaDirectory('/nonexistent/ca'), 'https://127.0.0.1:8888'), { code: 'CA_NOT_FOUND' });
});

test('before printing, the check SwarmKit makes: the server answers with a certificate of this cluster CA for that host, waiting for it to start', async (t) => {
  await withServer({ tlsHosts: ['127.0.0.1'] }, async (server, ca) => {
    await t.notThrowsAsync(checkExternalCa(ca.directory, server.url, 0));
    await t.throwsAsync(checkExternalCa(ca.directory, server.url.replace('127.0.0.1', 'localhost'), 0), {
      code: 'CA_SERVER_UNTRUSTED',
      message: /for "localhost"/,
    });
    await withServer({ tlsHosts: ['127.0.0.1'] }, async (stranger) => {
      await t.throwsAsync(checkExternalCa(ca.directory, stranger.url, 0), { code: 'CA_SERVER_UNTRUSTED' }, "another CA's server");
    });
    // A server that is still starting: found within the wait; none at all: unreachable, with how to start it.
    const port = await freePort();
    const late = new Promise<Awaited<ReturnType<typeof serveCa>>>((resolve, reject) =>
      setTimeout(() => serveCa(ca.directory, ca.keystore, { host: '127.0.0.1', port, tlsHosts: ['127.0.0.1'] }).then(resolve, reject), 700),
    );
    await t.notThrowsAsync(checkExternalCa(ca.directory, `https://127.0.0.1:${port}`, 10_000));
    await (await late).close();
    const unreachable = await t.throwsAsync(checkExternalCa(ca.directory, `https://127.0.0.1:${port}`, 300), { code: 'CA_SERVER_UNREACHABLE' });
    t.regex((unreachable as { hint?: string } | undefined)?.hint ?? '', /keyward ca serve --tls --hostname 127\.0\.0\.1/);
  });
});
