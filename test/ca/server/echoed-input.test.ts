/**
 * What a client sends is quoted back short: answers and the access log quote at most a few dozen
 * characters of any piece of input, with its length, and the log holds no control characters.
 */
import test from 'ava';
import { QUOTED_CHARACTERS, quoted } from '../../../src/quoted.js';
import { nodeCsr } from '../../harness/ca.js';
import { post, servedFor } from '../../harness/ca-server.js';

/** Longer than any answer or log line quoting a piece of input should be. */
const SHORT = 300;

test('quoted(): JSON-quoted, control and format characters escaped, cut with an ellipsis and the length, never inside a surrogate pair', (t) => {
  t.is(quoted('swarm-admin'), '"swarm-admin"');
  t.is(quoted('a"b\\c\n\x1b[31m\x7f\u009b\u202e\u2028\u{e0041}'), String.raw`"a\"b\\c\n\u001b[31m\u007f\u009b\u202e\u2028\u{e0041}"`);
  t.is(quoted('x'.repeat(15_000)), `"${'x'.repeat(QUOTED_CHARACTERS)}…" (15,000 characters)`);
  t.is(quoted('😀'.repeat(40)), `"${'😀'.repeat(QUOTED_CHARACTERS / 2)}…" (80 characters)`);
  t.is(quoted(`${'x'.repeat(QUOTED_CHARACTERS - 1)}😀`), `"${'x'.repeat(QUOTED_CHARACTERS - 1)}…" (${QUOTED_CHARACTERS + 1} characters)`);
});

test('answers quote a long path, profile, subject or node ID short, and the access log too', async (t) => {
  const lines: string[] = [];
  const { server } = await servedFor(t, { log: (line) => lines.push(line) });
  const csr = (await nodeCsr('OU=swarm-worker, CN=echo')).csrPem;
  const message = async (path: string, body: unknown) => (await post(server.url, path, JSON.stringify(body))).body.errors[0]!.message;

  const notFound = await message(`/${'a'.repeat(15_000)}`, {});
  t.true(notFound.length < SHORT, `404: ${notFound.length} characters`);
  t.regex(notFound, /^no such endpoint: "\/a+…" \(15,001 characters\)$/);

  const profile = await message('/api/v1/cfssl/sign', { certificate_request: csr, profile: 'p'.repeat(30_000) });
  t.true(profile.length < SHORT, `profile: ${profile.length} characters`);
  t.regex(profile, /profile "p+…" \(30,000 characters\)/);

  // 500 organizational units of 100 characters: the message names how many, and quotes two.
  const names = Array.from({ length: 500 }, (_, i) => ({ OU: `${i}`.padEnd(100, 'u') }));
  const subject = await message('/api/v1/cfssl/sign', { certificate_request: csr, subject: { names } });
  t.true(subject.length < SHORT, `subject: ${subject.length} characters`);
  t.regex(subject, /names 500 values for OU \("0u+…" \(100 characters\), "1u+…" \(100 characters\) and 498 more\)/);

  const nodeId = await message('/api/v1/cfssl/sign', { certificate_request: csr, subject: { CN: 'n'.repeat(30_000) } });
  t.true(nodeId.length < SHORT, `node ID: ${nodeId.length} characters`);
  t.regex(nodeId, /^"n+…" \(30,000 characters\) is not a valid node ID$/);

  t.true(lines.length >= 4, 'each answer is logged');
  for (const line of lines) {
    t.true(line.length < SHORT, `a log line of ${line.length} characters: ${line.slice(0, 100)}`);
    t.false(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(line), `a control character in ${line.slice(0, 100)}`);
  }
});
