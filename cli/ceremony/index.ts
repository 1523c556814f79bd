/** `keyward ceremony …`: key ceremonies from reviewed scripts, witnessed, with a verifiable transcript. */
import { Option, type Command } from 'commander';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { outputDirectoryOption, outputOption, writeOutput } from '../io.js';
import { defineWizard } from './wizard.js';
import { rehearse, terminalWitnessing } from './room.js';

/** `keyward ceremony …`. */
export function defineCeremony(ceremony: Command): void {
  ceremony
    .command('check')
    .description('check a ceremony script (schema, devices named, inputs, outputs, the CA directory) without opening any device')
    .argument('<script>', 'the ceremony script (YAML)')
    .addOption(outputDirectoryOption('--out <dir>', 'also check that no output exists there yet'))
    .addHelpText('after', examples(['keyward ceremony check docs/ceremonies/root.yaml', 'keyward ceremony check root.yaml --out /media/usb/ceremony-2026']))
    .action(async (file: string, options: { out?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { readScript } = await import('../../src/ceremony/script.js');
      const { checkCeremony } = await import('../../src/ceremony/runner.js');
      const script = readScript(file);
      await checkCeremony(script, options.out, new Date());
      ctx.emit({ valid: true, kind: script.kind, sha256: script.sha256 }, () => `${script.file}: a valid ${script.kind} ceremony (sha256 ${script.sha256})`);
    });

  ceremony
    .command('run')
    .description('run a ceremony script before its witnesses, writing outputs and a hash-chained transcript to --out')
    .argument('<script>', 'the ceremony script (YAML)')
    .addOption(
      outputDirectoryOption('--out <dir>', 'where the transcript (transcript.jsonl) and outputs go; nothing there is ever written over').makeOptionMandatory(),
    )
    .option('--resume', 'continue the ceremony a dead machine stopped, from <out>/transcript.jsonl: keys made are reopened, never made twice')
    .option('--dry-run', 'rehearse the same script end to end on throw-away SoftHSM tokens and virtual YubiKeys; nothing is left behind')
    .option(
      '--so-pin-source <file>',
      "a backup or restore ceremony: read the source token's SO PIN from this file (else KEYWARD_SO_PIN_TOKEN_<serial>, KEYWARD_SO_PIN, or a prompt)",
    )
    .addHelpText(
      'after',
      examples([
        'keyward ceremony check root.yaml',
        'keyward ceremony run root.yaml --out ceremony-2026 --dry-run',
        'keyward ceremony run root.yaml --out /media/usb/ceremony-2026',
        'keyward ceremony run root.yaml --out /media/usb/ceremony-2026 --resume',
        'keyward ceremony run backup.yaml --out /media/usb/backup-2026 --so-pin-source file:/media/so-pin/root-hsm.pin',
        'keyward ceremony verify /media/usb/ceremony-2026/transcript.jsonl',
      ]) +
        `
Every certificate is first signed by a throw-away key, linted and shown; the device signs only once
it is approved, and what it signs must be what was shown. Witnesses answer at the terminal (without
one, one answer a line on standard input). --resume verifies the transcript so far, refuses one of
another script or one that ended, reopens each key made before the stop (its public key must be the
one recorded), reuses a finished step's outputs by their SHA-256, and appends to the same chain. PINs come from each device's own variable
(KEYWARD_PIN_TOKEN_<serial>, KEYWARD_PIN_YUBIKEY_<serial>), KEYWARD_PIN or the prompt; never from the script.
A backup or restore also needs the source token's SO PIN: --so-pin-source, KEYWARD_SO_PIN_TOKEN_<serial>,
KEYWARD_SO_PIN or the prompt.
`,
    )
    .action(async (file: string, options: { out: string; dryRun?: boolean; resume?: boolean; soPinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { readScript } = await import('../../src/ceremony/script.js');
      const { checkOutputs, runCeremony } = await import('../../src/ceremony/runner.js');
      const script = readScript(file);
      const witnessing = terminalWitnessing(ctx, (await import('ora')).default);
      if (!options.dryRun) {
        const result = await runCeremony(script, {
          out: options.out,
          keystore: (interaction) => ctx.keystore({ interaction }),
          interaction: ctx.interaction,
          witnessing,
          resume: options.resume === true,
          ...(options.soPinSource !== undefined ? { soPinSource: options.soPinSource } : {}),
        });
        ctx.emit(result, () => `ceremony done; transcript ${result.transcript}\nfinal hash ${result.finalHash}`);
        return;
      }
      if (options.resume) {
        const { keywardError } = await import('../../src/errors.js');
        throw keywardError('USAGE', '--resume continues a real ceremony; a rehearsal is run again from the start', { hint: 'drop --dry-run or --resume' });
      }
      // The real outputs are checked as a real run would; the rehearsal then runs (and checks the rest) elsewhere.
      checkOutputs(script, options.out);
      await rehearse(ctx, script, witnessing);
    });

  ceremony
    .command('verify')
    .description("check a transcript's hash chain and signatures (naming the first entry that does not hold) and the outputs beside it")
    .argument('<transcript>', 'transcript.jsonl')
    .addHelpText(
      'after',
      examples(['keyward ceremony verify ceremony-2026/transcript.jsonl', 'keyward ceremony verify ceremony-2026/transcript.jsonl --json | jq -r .finalHash']),
    )
    .action(async (file: string, _options: unknown, command: Command) => {
      const ctx = await CliContext.of(command);
      const { checkOutputFiles, verifyTranscript } = await import('../../src/ceremony/transcript.js');
      // What the transcript says is shown printable: anyone can write an unfinished transcript that verifies.
      const { printable } = await import('../../src/quoted.js');
      const verified = verifyTranscript(file);
      const outputs = checkOutputFiles(file, verified.entries);
      const changed = outputs.find((o) => o.status === 'changed');
      if (changed) {
        const { keywardError } = await import('../../src/errors.js');
        throw keywardError(
          'CEREMONY_OUTPUT_CHANGED',
          `${printable(changed.path)} is not the ${printable(changed.name)} the ceremony wrote (${file}, line ${changed.line})`,
          {
            hint: 'the file was changed after the ceremony; use the copy whose SHA-256 the transcript and the signed report give',
            details: { file: changed.path, line: changed.line },
          },
        );
      }
      const end = verified.entries.find((e) => e.type === 'ceremony.end');
      const outcome = String(end?.data.outcome ?? 'unfinished');
      ctx.emit({ valid: true, entries: verified.entries.length, outcome, finalHash: verified.finalHash, signatures: verified.signatures, outputs }, () =>
        [
          `${file}: ${verified.entries.length} entries, chain intact, ceremony ${printable(outcome)}`,
          ...verified.signatures.map((s) => `  signed by the ${printable(String(s.signer))} key (public key sha256 ${s.publicKeySha256})`),
          ...outputs.map((o) => `  output ${printable(o.name)}: ${printable(o.path)} ${o.status === 'unchanged' ? 'as written' : 'not beside the transcript'}`),
          `final hash ${verified.finalHash}`,
        ].join('\n'),
      );
    });

  ceremony
    .command('report')
    .description(
      'a printable report of a verified transcript for the witnesses to sign: steps, devices, fingerprints, final hash (and its QR code), signature lines',
    )
    .argument('<transcript>', 'transcript.jsonl')
    .addOption(
      new Option('--format <format>', 'markdown or text; html: one self-contained page for A4; pdf: that page printed by headless Chromium (needs --out)')
        .choices(['markdown', 'text', 'html', 'pdf'])
        .default('markdown'),
    )
    .addOption(outputOption('-o, --out <file>', 'write the report here (default: standard output)'))
    .addHelpText(
      'after',
      examples([
        'keyward ceremony report ceremony-2026/transcript.jsonl --out ceremony-2026/report.md',
        'keyward ceremony report ceremony-2026/transcript.jsonl --format html --out ceremony-2026/report.html',
        'keyward ceremony report ceremony-2026/transcript.jsonl --format pdf --out ceremony-2026/report.pdf',
        'keyward ceremony report ceremony-2026/transcript.jsonl --format text | lp',
      ]) +
        `
The transcript is verified first: a report of a tampered transcript is refused (TRANSCRIPT_TAMPERED,
exit 6), in every format, and so is one lacking a field the report shows (TRANSCRIPT_MALFORMED,
exit 6). Its text is shown on one line, control characters as escapes (\\n, \\u001b), and escaped
as markup in Markdown and HTML. The HTML page has its CSS inline, no script and nothing to fetch;
it prints the transcript's final hash as text and as a QR code, and on every printed page. PDF
needs headless Chromium (Debian: apt-get install chromium; Ubuntu's is a snap, which cannot print
here); without it, write --format html and print that.
`,
    )
    .action(async (file: string, options: { format: 'markdown' | 'text' | 'html' | 'pdf'; out?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { pdfReportOf, reportOf } = await import('../../src/ceremony/report.js');
      if (options.format !== 'pdf') {
        const report = reportOf(file, options.format);
        if (options.out) writeOutput(options.out, report, false);
        ctx.emit({ format: options.format, report }, () => (options.out ? `report written to ${options.out}` : report));
        return;
      }
      if (!options.out || options.out === '-') {
        const { keywardError } = await import('../../src/errors.js');
        throw keywardError('OPTION_MISSING', '--format pdf writes a file: give --out FILE', {
          hint: 'keyward ceremony report transcript.jsonl --format pdf --out report.pdf',
        });
      }
      const pdf = await pdfReportOf(file);
      writeOutput(options.out, pdf, true);
      ctx.emit({ format: 'pdf', out: options.out, bytes: pdf.length }, () => `report written to ${options.out}`);
    });

  defineWizard(ceremony);
}
