/**
 * What a ceremony's report says, read from its verified transcript: one model, sections of lists,
 * tables and paragraphs of plain words and code, that report-text.ts writes as Markdown or plain text
 * and report-html.ts as a printable page, so that every format says the same things.
 */
import type { TranscriptEntry, TranscriptVerification } from './transcript.js';
import { EntryFields } from './transcript-fields.js';

/** Words, or a value shown as code (a hash, a serial, a URI): the transcript's text made printable on one line, escaped by each format. */
export type Span = string | { code: string };
export type Line = Span[];

export type Block =
  | { kind: 'list'; items: Line[] }
  /**
   * A table; where `fingerprint` is set, its last column is a fingerprint (a SHA-256), which a
   * printed page shows unbroken on a line of its own under its row, for the witnesses to compare.
   */
  | { kind: 'table'; header: string[]; rows: Line[][]; fingerprint?: true }
  | { kind: 'paragraph'; text: Line }
  /** The transcript's final hash: what the witnesses compare and write down (HTML adds its QR code). */
  | { kind: 'final-hash'; hash: string }
  /** A line to fill in by hand on paper. */
  | { kind: 'blank'; label: string }
  /** A signature and date line for each witness. */
  | { kind: 'signatures'; witnesses: string[] };

export interface ReportSection {
  heading: string;
  blocks: Block[];
}

export interface CeremonyReport {
  title: string;
  /** Run on stand-in devices (`--dry-run`): not a real ceremony. */
  rehearsal: boolean;
  summary: Line[];
  sections: ReportSection[];
  finalHash: string;
}

const code = (text: string): Span => ({ code: text });

/**
 * The report of a verified transcript, `file`. Every field is read through EntryFields: checked to be
 * what Keyward writes there (TRANSCRIPT_MALFORMED names the line and field that is not), its text
 * printable on one line, so that no format shows a line or a control character the transcript's
 * author slipped into a field. Each format escapes its own markup.
 */
export function ceremonyReport(file: string, { entries, finalHash, signatures }: TranscriptVerification): CeremonyReport {
  const read = (entry: TranscriptEntry) => EntryFields.of(file, entry);
  const start = read(entries[0]!);
  const of = (type: string) => entries.filter((e) => e.type === type).map(read);
  const time = start.text('data.time');
  const rehearsal = start.has('data.rehearsal');
  const end = of('ceremony.end')[0]?.text('data.outcome') ?? 'unfinished';
  const failed = of('ceremony.failed').map((f) => `: stopped at ${f.text('data.stage')}, ${f.text('data.code')}: ${f.text('data.message')}`)[0] ?? '';
  const steps = of('step.done').map((step) => ({
    keys: step.list('data.keys').map((k) => ({
      role: k.text('role'),
      device: k.text('device'),
      copied: k.optionalText('copiedFrom') !== undefined,
      generated: k.flag('generated'),
      publicKey: k.text('publicKey'),
      spkiSha256: k.text('spkiSha256'),
    })),
    certificates: step
      .list('data.certificates')
      .map((c): Line[] => [[c.text('profile')], [c.text('subject')], [code(c.text('serial'))], [c.text('notAfter')], [code(c.text('sha256'))]]),
    crls: step.list('data.crls').map((c): Line[] => [[c.text('role')], [c.text('number')], [c.optionalText('nextUpdate') ?? ''], [code(c.text('sha256'))]]),
    files: step.list('data.files').map((f): Line[] => [[f.text('path')], [f.flag('removed') ? 'removed' : code(f.optionalText('sha256') ?? '')]]),
  }));
  // A key made before the machine stopped is opened, not made, by the resumed run: it was still made in this ceremony.
  const madeBeforeStop = new Set(
    of('key.ready')
      .filter((e) => e.flag('data.generated'))
      .map((e) => e.text('data.publicKey')),
  );
  // Each device once (a resumed run binds them again).
  const devices = new Map<string, Line[]>();
  for (const e of of('device.bound')) {
    const [device, uri] = [e.text('data.device'), e.text('data.uri')];
    devices.set(`${device} ${uri}`, [[device], [code(uri)], [e.optionalText('data.serial') ?? 'not bound']]);
  }
  const table = (header: string[], rows: Line[][], fingerprint?: true): Block => ({ kind: 'table', header, rows, ...(fingerprint ? { fingerprint } : {}) });
  const list = (items: Line[]): Block => ({ kind: 'list', items });
  const section = (heading: string, ...blocks: Block[]): ReportSection => ({ heading, blocks });
  const crls = steps.flatMap((s) => s.crls);
  return {
    title: start.text('data.title'),
    rehearsal,
    summary: [
      [`Ceremony: ${start.text('data.kind')}${rehearsal ? ' (REHEARSAL on stand-in devices: not a real ceremony)' : ''}`],
      [`Time: ${time}`],
      [`Script: ${start.text('data.script.file')}, sha256 `, code(start.text('data.script.sha256'))],
      [start.has('data.repository') ? `TUF repository: ${start.text('data.repository')}` : `CA directory: ${start.text('data.caDirectory')}`],
      ...of('ceremony.resumed').map((e): Line => [
        `Resumed at ${e.text('at')} after the machine stopped, from entry ${e.text('data.after')} (`,
        code('--resume'),
        ')',
      ]),
      [`Outcome: ${end}${failed}`],
    ],
    sections: [
      section('Steps', list(entries.flatMap((e) => stepLine(read(e), time)))),
      section('Devices', table(['Device', 'URI', 'Serial'], [...devices.values()])),
      section(
        'Keys',
        table(
          ['Role', 'Made or used', 'Device', 'Public key SHA-256'],
          steps.flatMap((s) =>
            s.keys.map((k) => [
              [k.role],
              [k.copied ? 'copied' : k.generated ? 'made' : madeBeforeStop.has(k.publicKey) ? 'made (before the stop)' : 'used'],
              [k.device],
              [code(k.spkiSha256)],
            ]),
          ),
          true,
        ),
      ),
      section(
        'Certificates',
        table(
          ['Profile', 'Subject', 'Serial', 'Valid until', 'SHA-256'],
          steps.flatMap((s) => s.certificates),
          true,
        ),
      ),
      ...(crls.length ? [section('CRLs', table(['Issuer', 'Number', 'Next update', 'SHA-256'], crls, true))] : []),
      section(
        'Files written',
        table(
          ['File', 'SHA-256'],
          [...steps.flatMap((s) => s.files), ...of('output.written').map((e) => [[e.text('data.path')], [code(e.text('data.sha256'))]])],
          true,
        ),
      ),
      section('Questions asked', list(of('prompt').map((e) => [`${e.text('data.question')}: ${e.text('data.answer')}`]))),
      section(
        'Transcript',
        list([
          [`${entries.length} entries, hash chain intact`],
          // verifyTranscript gives the signatures in the order of their entries.
          ...of('transcript.signature').map((e, i): Line => [
            `signed by the ${e.text('data.signer')} key, public key SHA-256 `,
            code(signatures[i]!.publicKeySha256),
          ]),
        ]),
        { kind: 'final-hash', hash: finalHash },
      ),
      section(
        'Witnesses',
        { kind: 'paragraph', text: ['We witnessed this ceremony and checked the final hash above against ', code('keyward ceremony verify'), '.'] },
        { kind: 'signatures', witnesses: start.texts('data.witnesses') },
        { kind: 'blank', label: 'Tamper-evident bag numbers, notes' },
      ),
    ],
    finalHash,
  };
}

/** An entry as a step of the ceremony's course, with its transcript line and time; questions and signatures have sections of their own. */
function stepLine(entry: EntryFields, ceremonyTime: string): Line[] {
  const s = (key: string) => entry.text(`data.${key}`);
  const type = entry.type;
  const what = ((): Line | undefined => {
    switch (type) {
      case 'ceremony.start':
        return [`ceremony begun from the script (sha256 `, code(s('script.sha256')), ')'];
      case 'ceremony.resumed':
        return [`resumed after the machine stopped, from entry ${s('after')}`];
      case 'ceremony.checked':
        return [`checked: ${s('what')}`];
      case 'device.bound':
        return [`device ${s('device')} bound${entry.has('data.serial') ? `, serial ${s('serial')}` : ''}`];
      case 'step.begin':
        return [`began: ${s('what')}`];
      case 'key.ready':
        return [
          `${s('role')} key ${entry.optionalText('data.copiedFrom') !== undefined ? '(the copy) opened' : entry.flag('data.generated') ? 'made' : 'opened'} on ${s('device')}`,
        ];
      // A key copied under wrap (backup, restore): where, and the fingerprints the witnesses compare.
      case 'key-copy.source-checked':
      case 'key-copy.copy-found':
      case 'key-copy.key-unwrapped': {
        const done = {
          'key-copy.source-checked': 'key to copy checked',
          'key-copy.copy-found': 'copy made before the stop found',
          'key-copy.key-unwrapped': 'copy made',
        };
        return [`${done[type]} on token ${s('token')} (serial ${s('serial')}), public key sha256 `, code(s('spkiSha256'))];
      }
      case 'key-copy.transport-made':
        return [`transport key made on token ${s('token')} (serial ${s('serial')}), sha256 `, code(s('spkiSha256'))];
      case 'key-copy.transport-trusted':
        return [`the Security Officer of token ${s('token')} (serial ${s('serial')}) trusted the transport key`];
      case 'key-copy.key-wrapped':
        return [`key wrapped on token ${s('token')} (serial ${s('serial')}), ${s('bytes')} bytes, in memory only`];
      case 'key-copy.proof':
        return [`the copy signed a fresh challenge: it ${entry.flag('data.verified') ? 'verifies' : 'does NOT verify'} with ${s('verifiedWith.certificate')}`];
      case 'key.attestation':
        return [`${s('role')} key attested by the device that made it`];
      case 'prompt.secret':
        return [`${s('prompt')} (${entry.flag('data.answered') ? 'answered' : 'not answered'}; what was typed is not recorded)`];
      case 'certificate.draft': {
        const lint = entry.has('data.lint') ? entry.list('data.lint') : [];
        return [
          `${s('profile')} certificate drafted, signed by a throw-away key and linted: ${lint.filter((f) => f.flag('ok')).length} of ${lint.length} checks passed`,
        ];
      }
      case 'changes.review':
        return [`shown for approval: ${s('what')}`];
      case 'step.done':
        return [`step ${s('step')} done`];
      case 'output.written':
        return [`output ${s('name')} written to ${s('path')}`];
      case 'output.reused':
        return [`output ${s('name')} at ${s('path')} reused, as recorded before the stop`];
      case 'signer.added':
        return [`the new ${s('signer')} key is to sign the transcript`];
      case 'witness.acknowledged':
        return [`${s('witness')} acknowledged the fingerprints and files`];
      case 'warning':
      case 'notice':
        return [`${type}: ${s('message')}`];
      case 'ceremony.failed':
        return [`stopped at ${s('stage')}: ${s('code')}: ${s('message')}`];
      case 'ceremony.end':
        return [`ended: ${s('outcome')}`];
      default:
        return undefined;
    }
  })();
  if (!what) return [];
  // The time of day; the date too where it is not the ceremony's (a ceremony resumed another day).
  const time = entry.text('at');
  const at = time.slice(0, 10) === ceremonyTime.slice(0, 10) ? time.slice(11, 19) : `${time.slice(0, 10)} ${time.slice(11, 19)}`;
  return [[`line ${entry.line}, ${at}: `, ...what]];
}
