/** `keyward doctor`: what the machine sees of YubiKeys (USB, PC/SC, PIV), and what to do about a mismatch. */
import type { Command } from 'commander';
import { CliContext } from './context.js';
import { examples } from './help.js';

const MARK = { ok: '✓', warning: '!', problem: '✗' } as const;

/** `keyward doctor`. */
export function defineDoctor(doctor: Command): void {
  doctor.addHelpText('after', examples(['keyward doctor', 'keyward doctor --json'])).action(async (_options: unknown, command: Command) => {
    const ctx = await CliContext.of(command);
    const { diagnose } = await import('../src/hsm/piv/diagnostics.js');
    const report = await diagnose();
    ctx.emit(report, () =>
      [
        `USB (vendor 0x1050): ${report.usb.length ? report.usb.map((u) => `${u.product} [${u.interfaces.join('+') || `pid 0x${u.productId.toString(16)}`}]${u.serial ? ` serial ${u.serial}` : ''}`).join('; ') : 'no YubiKey'}${report.usbError ? ` (${report.usbError})` : ''}`,
        `PC/SC: ${report.pcsc.running ? `running, ${report.pcsc.readers.length} reader(s)${report.pcsc.readers.length ? `: ${report.pcsc.readers.map((r) => `"${r.name}"${r.cardPresent ? ' (card)' : ''}`).join(', ')}` : ''}` : 'not running'}`,
        ...report.findings.map((f) => `${MARK[f.level]} ${f.message}${f.hint ? `\n    ${f.hint}` : ''}`),
      ].join('\n'),
    );
  });
}
