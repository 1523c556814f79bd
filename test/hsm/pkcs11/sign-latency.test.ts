/** When a PKCS#11 signature may be made on the calling thread: decided from how long recent ones took. */
import test from 'ava';
import { INLINE_SIGN_MAX_MS, SignLatency } from '../../../src/hsm/pkcs11/sign-latency.js';

const quick = INLINE_SIGN_MAX_MS / 10;
const slow = INLINE_SIGN_MAX_MS * 20;

test('a key never timed signs off the calling thread: its module may be across a network', (t) => {
  t.false(new SignLatency().inline());
});

test('a quick module signs on the calling thread; a slow one (a network HSM, RSA-4096) never does', (t) => {
  const fast = new SignLatency();
  fast.record(quick, false);
  t.true(fast.inline());
  const remote = new SignLatency();
  for (let i = 0; i < 20; i++) remote.record(slow, false);
  t.false(remote.inline());
});

test('a busy machine that slows some signatures down does not push a quick module off the calling thread', (t) => {
  const latency = new SignLatency();
  latency.record(quick, false);
  for (let i = 0; i < 6; i++) latency.record(slow, false);
  t.true(latency.inline(), 'the quickest recent signature stands for the module');
  for (let i = 0; i < 2; i++) latency.record(slow, false);
  t.false(latency.inline(), 'once no recent signature was quick, it goes to worker threads');
});

test('one slow signature on the calling thread sends the next ones to worker threads until one is quick again', (t) => {
  const latency = new SignLatency();
  for (let i = 0; i < 8; i++) latency.record(quick, true);
  latency.record(slow, true);
  t.false(latency.inline(), 'the loop was blocked once: not again on the strength of older samples');
  latency.record(quick, false);
  t.true(latency.inline());
});
