/**
 * What a ceremony shows the room at the terminal holds text from outside (a certificate's subject
 * from a CSR, a path): one line each, with nothing a terminal would act on, so no field can forge
 * a line or rewrite the fingerprints the witnesses copy.
 */
import test from 'ava';
import { summary } from '../../src/ceremony/runner.js';

test('the closing summary shows outside text on its own line, control characters escaped', (t) => {
  const hostile = 'CN=node\n  sha256 0000\u001b[2J\u202e';
  const shown = summary(
    [
      {
        step: 'ca.intermediate.sign',
        at: '2026-12-06T00:00:00Z',
        keys: [],
        certificates: [{ profile: 'cluster-ca', subject: hostile, issuer: 'CN=root', serial: '01', notBefore: '', notAfter: '', sha256: 'ab', pem: '' }],
        crls: [],
        files: [],
        ledger: [],
        outputs: {},
      },
    ],
    [{ name: 'certificate', path: 'out/a\nb.pem', sha256: 'cd' }],
  );
  t.is(shown.split('\n').length, 4, shown);
  t.false(/[\p{Cc}\p{Cf}]/u.test(shown.replaceAll('\n', '')), 'no control or format character');
  t.true(shown.includes('CN=node\\n  sha256 0000\\u001b[2J\\u202e'));
  t.true(shown.includes('output out/a\\nb.pem'));
});
