/**
 * `keyward doctor`: what the machine sees of YubiKeys (USB, PC/SC, PIV) and of the SoftHSM store
 * Keyward would use, and what to do about a mismatch or a risk.
 */
import type { Command } from 'commander';
import { KeywardError } from '../src/errors.js';
import type { Finding } from '../src/hsm/piv/diagnostics.js';
import type { SoftHsmStoreReport } from '../src/keystore/pkcs11/administration.js';
import { CliContext } from './context.js';
import { examples } from './help.js';

const MARK = { ok: '✓', warning: '!', problem: '✗' } as const;

interface SoftHsmDiagnosis {
  store?: SoftHsmStoreReport & { tokens: Array<SoftHsmStoreReport['tokens'][number] & { label?: string }> };
  findings: Finding[];
}

/** The SoftHSM store behind Keyward's PKCS#11 module, when that module is SoftHSM. */
async function diagnoseSoftHsm(ctx: CliContext): Promise<SoftHsmDiagnosis> {
  try {
    const administration = await ctx.keystore().administration('pkcs11');
    const store = administration.softHsmStore();
    if (!store) return { findings: [] };
    const tokens = administration.tokens();
    const labelled = { ...store, tokens: store.tokens.map((d) => ({ ...d, label: tokens.find((t) => t.serial === d.serial)?.label })) };
    const risk = administration.fileStoreRisk('pkcs11:', tokens);
    const stores = [...new Set(store.tokens.map((t) => t.objectStore))].join(' and ') || `none yet (new tokens: ${store.backend})`;
    return {
      store: labelled,
      findings: [
        risk
          ? { level: 'warning', ...risk }
          : { level: 'ok', message: `SoftHSM: ${tokens.length} token(s) in ${store.tokenDir ?? '(no token directory configured)'}; object store: ${stores}` },
      ],
    };
  } catch (error) {
    // No PKCS#11 module named and no SoftHSM installed: nothing to diagnose here.
    if (error instanceof KeywardError && error.code === 'MODULE_NOT_FOUND') return { findings: [] };
    if (error instanceof KeywardError)
      return { findings: [{ level: 'problem', message: `PKCS#11: ${error.message}`, ...(error.hint ? { hint: error.hint } : {}) }] };
    throw error;
  }
}

/** `keyward doctor`. */
export function defineDoctor(doctor: Command): void {
  doctor.addHelpText('after', examples(['keyward doctor', 'keyward doctor --json'])).action(async (_options: unknown, command: Command) => {
    const ctx = await CliContext.of(command);
    const { diagnose } = await import('../src/hsm/piv/diagnostics.js');
    const piv = await diagnose();
    const softhsm = await diagnoseSoftHsm(ctx);
    const report = { ...piv, ...(softhsm.store ? { softhsm: softhsm.store } : {}), findings: [...piv.findings, ...softhsm.findings] };
    ctx.emit(report, () =>
      [
        `USB (vendor 0x1050): ${report.usb.length ? report.usb.map((u) => `${u.product} [${u.interfaces.join('+') || `pid 0x${u.productId.toString(16)}`}]${u.serial ? ` serial ${u.serial}` : ''}`).join('; ') : 'no YubiKey'}${report.usbError ? ` (${report.usbError})` : ''}`,
        `PC/SC: ${report.pcsc.running ? `running, ${report.pcsc.readers.length} reader(s)${report.pcsc.readers.length ? `: ${report.pcsc.readers.map((r) => `"${r.name}"${r.cardPresent ? ' (card)' : ''}`).join(', ')}` : ''}` : 'not running'}`,
        ...(softhsm.store
          ? [
              `SoftHSM: ${softhsm.store.module}, config ${softhsm.store.config ?? '(none found)'}, new tokens on its ${softhsm.store.backend} object store` +
                ` (database store ${softhsm.store.databaseStore ? 'available' : 'not in this build'})`,
            ]
          : []),
        ...report.findings.map((f) => `${MARK[f.level]} ${f.message}${f.hint ? `\n    ${f.hint}` : ''}`),
      ].join('\n'),
    );
  });
}
