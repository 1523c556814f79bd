/** The cluster CA with its intermediate key in a YubiKey slot (the virtual YubiKey, in-process). */
import test from 'ava';
import { signIntermediateCrl } from '../../src/ca/steps/revocation.js';
import { CA_FILES } from '../../src/ca/store.js';
import { VirtualYubiKey } from '../../src/hsm/virtual-yubikey/card.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { Secret } from '../../src/secret.js';
import { certificatePem } from '../../src/x509/certificate.js';
import { nodeCsr, pemFiles, testCa } from '../harness/ca.js';
import { recordingInteraction, USER_PIN } from '../harness/keystore.js';
import { run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

test('a YubiKey-held intermediate issues node certificates and CRLs that OpenSSL accepts', async (t) => {
  const card = await VirtualYubiKey.create({ firmware: '5.7.1' }, { touch: { kind: 'auto', delayMs: 5 } });
  // The root is in SoftHSM and the intermediate in the YubiKey: each device is asked for its own PIN.
  const keystore = new Keystore({
    attachedCards: [{ reader: 'virtual', card }],
    env: {},
    interaction: { ...recordingInteraction([]), askSecret: async (prompt) => Secret.fromString(/YubiKey/.test(prompt) ? '123456' : USER_PIN) },
  });
  const uri = `yubikey:serial=${card.serial};slot=9c`;
  await keystore.generate(uri, { algorithm: 'p256', pinPolicy: 'once', touchPolicy: 'cached' });
  const ca = await testCa(t, { intermediateKey: uri, keystore });
  t.is(ca.authority.signer.handle.info.backend, 'yubikey');
  const issued = await ca.authority.issueNode((await nodeCsr('OU=swarm-manager, CN=yk-issued')).csrPem);
  const [crl] = (await signIntermediateCrl(ca.directory, ca.keystore)).crls;
  const files = pemFiles(tempDir(t, 'keyward-ykca-'), {
    'node.pem': certificatePem(issued.certificate),
    'intermediate.pem': ca.directory.read(CA_FILES.intermediate)!,
    'roots.pem': ca.directory.rootBundle(),
    'crls.pem': crl!.pem + ca.directory.read('crl/root.crl.pem')!,
  });
  const verified = await run('openssl', [
    'verify',
    '-x509_strict',
    '-crl_check_all',
    '-CRLfile',
    files['crls.pem']!,
    '-CAfile',
    files['roots.pem']!,
    '-untrusted',
    files['intermediate.pem']!,
    files['node.pem']!,
  ]);
  t.is(verified.code, 0, verified.stdout + verified.stderr);
  await ca.close();
});
