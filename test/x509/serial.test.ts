/** Serials: 16 random bytes, positive and kept whole by DER, never the same twice across the 4 KiB blocks they are drawn from. */
import test from 'ava';
import { randomSerialBytes } from '../../src/x509/serial.js';

test('serials are 16 bytes, the first 1–127, all different across many blocks', (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const serial = randomSerialBytes();
    t.is(serial.length, 16);
    if (serial[0]! < 1 || serial[0]! > 0x7f) t.fail(`serial ${Buffer.from(serial).toString('hex')} is not positive or would lose a byte`);
    seen.add(Buffer.from(serial).toString('hex'));
  }
  t.is(seen.size, 5000);
  const first = randomSerialBytes();
  first.fill(0);
  t.not(Buffer.from(randomSerialBytes()).toString('hex'), '00'.repeat(16), 'each serial is its own copy');
});
