/** `keyward doctor`'s reasoning, on a constructed USB view (no YubiKey can be plugged into this machine). */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnose } from '../../../src/hsm/piv/diagnostics.js';
import { tempDir } from '../../harness/temp.js';

function sysfs(t: ExecutionContext, devices: Array<{ product: string; pid: number; serial: string }>): string {
  const root = tempDir(t, 'keyward-sysfs-');
  devices.forEach((d, i) => {
    const dir = join(root, `1-${i + 1}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'idVendor'), '1050\n');
    writeFileSync(join(dir, 'idProduct'), `${d.pid.toString(16).padStart(4, '0')}\n`);
    writeFileSync(join(dir, 'product'), `${d.product}\n`);
    writeFileSync(join(dir, 'serial'), `${d.serial}\n`);
  });
  mkdirSync(join(root, 'usb1'));
  writeFileSync(join(root, 'usb1', 'idVendor'), '1d6b\n');
  return root;
}

// This test process talks to no pcscd: PC/SC is "not running" for it.
process.env.PCSCLITE_CSOCK_NAME = join(tmpdir(), 'keyward-no-pcscd', 'pcscd.comm');

test('a YubiKey on USB with CCID disabled: the finding says so and how to enable it', async (t) => {
  const report = await diagnose({ hid: false, sysfsRoot: sysfs(t, [{ product: 'YubiKey OTP+FIDO', pid: 0x0403, serial: '1234' }]) });
  t.like(report.usb[0], { productId: 0x0403, interfaces: ['OTP', 'FIDO'], source: 'sysfs' });
  const ccid = report.findings.find((f) => /CCID interface disabled/.test(f.message));
  t.is(ccid?.level, 'problem');
  t.regex(ccid!.hint!, /ykman config mode OTP\+FIDO\+CCID/);
});

test('a YubiKey on USB but no PC/SC service: explained as the reason it cannot be reached', async (t) => {
  const report = await diagnose({ hid: false, sysfsRoot: sysfs(t, [{ product: 'YubiKey OTP+FIDO+CCID', pid: 0x0407, serial: '5678' }]) });
  t.false(report.pcsc.running);
  const finding = report.findings.find((f) => /PC\/SC service is not running/.test(f.message));
  t.is(finding?.level, 'problem');
  t.regex(finding!.message, /cannot be reached/);
  t.regex(finding!.hint!, /systemctl start pcscd/);
});

test('nothing anywhere: said cleanly, as a warning', async (t) => {
  const report = await diagnose({ hid: false, sysfsRoot: sysfs(t, []) });
  t.deepEqual(report.usb, []);
  t.true(report.findings.some((f) => f.level === 'warning' && /no YubiKey on USB and no PIV card/.test(f.message)));
  t.false(report.findings.some((f) => f.level === 'problem'));
});
