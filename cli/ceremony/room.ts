/** The ceremony at this terminal: the witnesses' questions and answers, spinners, and rehearsals (`--dry-run`, the wizard's). */
import { createInterface } from 'node:readline';
import type { Witnessing } from '../../src/ceremony/runner.js';
import type { CeremonyScript } from '../../src/ceremony/script.js';
import type { CliContext } from '../context.js';
import { terminalAvailable } from '../terminal.js';

/**
 * The people in the room at this terminal: questions with @inquirer/prompts at a terminal, else one
 * answer a line from standard input ("yes"/"y"; anything else, or the end of input, is no).
 */
export function terminalWitnessing(ctx: CliContext, ora: typeof import('ora').default): Witnessing {
  const interactive = ctx.options.input !== false && terminalAvailable();
  let lines: AsyncIterator<string> | undefined;
  return {
    show: (text) => process.stderr.write(`\n${text}\n\n`),
    confirm: async (question) => {
      if (interactive) {
        const { confirm } = await import('@inquirer/prompts');
        return confirm({ message: question, default: false }, { output: process.stderr });
      }
      process.stderr.write(`${question} [yes/no] `);
      lines ??= createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
      const next = await lines.next();
      const answer = !next.done && /^(y|yes)$/i.test(next.value.trim());
      process.stderr.write(`${answer ? 'yes' : 'no'}\n`);
      return answer;
    },
    busy: (text) => {
      if (ctx.json || !process.stderr.isTTY) {
        process.stderr.write(`${text}…\n`);
        return { stop: () => undefined };
      }
      const spinner = ora({ text, stream: process.stderr, discardStdin: false }).start();
      return { stop: () => spinner.stop() };
    },
  };
}

/** Runs a script on stand-ins (`--dry-run`, and the wizard's rehearsal), prints its report, and leaves nothing behind. */
export async function rehearse(ctx: CliContext, script: CeremonyScript, witnessing: Witnessing): Promise<void> {
  const { prepareRehearsal } = await import('../../src/ceremony/rehearsal.js');
  const { runCeremony } = await import('../../src/ceremony/runner.js');
  const { reportOf } = await import('../../src/ceremony/report.js');
  const rehearsal = await ctx.progress('setting up stand-in devices for the rehearsal', () => prepareRehearsal(script));
  try {
    const result = await runCeremony(rehearsal.script, {
      out: rehearsal.out,
      keystore: rehearsal.keystore,
      interaction: ctx.interaction,
      witnessing,
      rehearsal: { standIns: rehearsal.standIns },
    });
    const report = reportOf(result.transcript, 'text');
    ctx.emit({ ...result, dryRun: true, report }, () => `${report}\nrehearsal done: nothing was written, and the stand-ins are gone`);
  } finally {
    await rehearsal.close();
  }
}
