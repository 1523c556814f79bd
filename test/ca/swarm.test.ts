/** `keyward ca swarm-command`'s reasoning: SwarmKit's rules for the URL and the certificate it is given. */
import test from 'ava';
import { rmSync } from 'node:fs';
import { externalCaUrl, swarmRotation } from '../../src/ca/swarm.js';
import { CaDirectory } from '../../src/ca/store.js';
import { testCa } from '../harness/ca.js';

test('the URL SwarmKit is given: HTTPS, ending in cfssl\'s signing path, nothing else', (t) => {
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
  t.is(rotation.command, `docker swarm ca --rotate --ca-cert ${rotation.caCert} --external-ca protocol=cfssl,url=https://127.0.0.1:8888/api/v1/cfssl/sign,cacert=${rotation.caCert}`);
  rmSync(ca.directory.path('cluster-ca.pem'));
  t.throws(() => swarmRotation(ca.directory, 'https://127.0.0.1:8888'), { code: 'CA_NOT_FOR_SWARM' });
  t.throws(() => swarmRotation(new CaDirectory('/nonexistent/ca'), 'https://127.0.0.1:8888'), { code: 'CA_NOT_FOUND' });
});
