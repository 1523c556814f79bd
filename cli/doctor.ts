/** `keyward doctor`: what the machine sees of YubiKeys (USB, PC/SC, PIV), and what to do about a mismatch. */
import { Command } from 'commander';
import { diagnose } from '../src/hsm/piv/diagnostics.js';
import { CliContext } from './context.js';
import { examples } from './io.js';

const MARK = { ok: '✓', warning: '!', problem: '✗' } as const;

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('explain what this machine sees of YubiKeys: USB devices, PC/SC readers, PIV applications')
    .addHelpText('after', examples(['keyward doctor', 'keyward doctor --json']))
    .action(async (_options: unknown, command: Command) => {
      const ctx = CliContext.of(command);
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
