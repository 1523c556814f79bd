/**
 * What a ceremony's report says, read from its verified transcript: one model, sections of lists,
 * tables and paragraphs of plain words and code, that report-text.ts writes as Markdown or plain text
 * and report-html.ts as a printable page, so that every format says the same things.
 */
import type { StepRecord } from '../ca/steps/record.js';
import type { TranscriptEntry, TranscriptVerification } from './transcript.js';

/** Words, or a value shown as code (a hash, a serial, a URI): every piece is the transcript's text, escaped by each format. */
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

interface Start {
  title: string;
  kind: string;
  time: string;
  script: { file: string; sha256: string };
  caDirectory?: string;
  repository?: string;
  witnesses: string[];
  rehearsal?: unknown;
}

/** The report of a verified transcript. */
export function ceremonyReport({ entries, finalHash, signatures }: TranscriptVerification): CeremonyReport {
  const start = entries[0]!.data as unknown as Start;
  const of = (type: string) => entries.filter((e) => e.type === type);
  const end = of('ceremony.end')[0]?.data.outcome ?? 'unfinished';
  const failed = of('ceremony.failed')[0]?.data as { stage: string; code: string; message: string } | undefined;
  const steps = of('step.done').map((e) => e.data as unknown as StepRecord);
  // A key made before the machine stopped is opened, not made, by the resumed run: it was still made in this ceremony.
  const madeBeforeStop = new Set(
    of('key.ready')
      .filter((e) => e.data.generated === true)
      .map((e) => String(e.data.publicKey)),
  );
  const devices = [...new Map(of('device.bound').map((e) => [`${String(e.data.device)} ${String(e.data.uri)}`, e])).values()];
  const table = (header: string[], rows: Line[][], fingerprint?: true): Block => ({ kind: 'table', header, rows, ...(fingerprint ? { fingerprint } : {}) });
  const list = (items: Line[]): Block => ({ kind: 'list', items });
  const section = (heading: string, ...blocks: Block[]): ReportSection => ({ heading, blocks });
  const crls = steps.flatMap((s) => s.crls);
  return {
    title: start.title,
    rehearsal: Boolean(start.rehearsal),
    summary: [
      [`Ceremony: ${start.kind}${start.rehearsal ? ' (REHEARSAL on stand-in devices: not a real ceremony)' : ''}`],
      [`Time: ${start.time}`],
      [`Script: ${start.script.file}, sha256 `, code(start.script.sha256)],
      [start.repository !== undefined ? `TUF repository: ${start.repository}` : `CA directory: ${String(start.caDirectory)}`],
      ...of('ceremony.resumed').map((e): Line => [`Resumed at ${e.at} after the machine stopped, from entry ${String(e.data.after)} (`, code('--resume'), ')']),
      [`Outcome: ${String(end)}${failed ? `: stopped at ${failed.stage}, ${failed.code}: ${failed.message}` : ''}`],
    ],
    sections: [
      section('Steps', list(entries.flatMap((e) => stepLine(e, start.time)))),
      section(
        'Devices',
        table(
          ['Device', 'URI', 'Serial'],
          devices.map((e) => [[String(e.data.device)], [code(String(e.data.uri))], [String(e.data.serial ?? 'not bound')]]),
        ),
      ),
      section(
        'Keys',
        table(
          ['Role', 'Made or used', 'Device', 'Public key SHA-256'],
          steps.flatMap((s) =>
            s.keys.map((k) => [
              [k.role],
              [k.copiedFrom ? 'copied' : k.generated ? 'made' : madeBeforeStop.has(k.publicKey) ? 'made (before the stop)' : 'used'],
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
          steps.flatMap((s) => s.certificates.map((c) => [[c.profile], [c.subject], [code(c.serial)], [c.notAfter], [code(c.sha256)]])),
          true,
        ),
      ),
      ...(crls.length
        ? [
            section(
              'CRLs',
              table(
                ['Issuer', 'Number', 'Next update', 'SHA-256'],
                crls.map((c) => [[c.role], [String(c.number)], [c.nextUpdate ?? ''], [code(c.sha256)]]),
                true,
              ),
            ),
          ]
        : []),
      section(
        'Files written',
        table(
          ['File', 'SHA-256'],
          [
            ...steps.flatMap((s) => s.files.map((f) => [[f.path], [f.removed ? 'removed' : code(f.sha256 ?? '')]])),
            ...of('output.written').map((e) => [[String(e.data.path)], [code(String(e.data.sha256))]]),
          ],
          true,
        ),
      ),
      section('Questions asked', list(of('prompt').map((e) => [`${String(e.data.question)}: ${String(e.data.answer)}`]))),
      section(
        'Transcript',
        list([
          [`${entries.length} entries, hash chain intact`],
          ...signatures.map((s): Line => [`signed by the ${s.signer} key, public key SHA-256 `, code(s.publicKeySha256)]),
        ]),
        { kind: 'final-hash', hash: finalHash },
      ),
      section(
        'Witnesses',
        { kind: 'paragraph', text: ['We witnessed this ceremony and checked the final hash above against ', code('keyward ceremony verify'), '.'] },
        { kind: 'signatures', witnesses: start.witnesses },
        { kind: 'blank', label: 'Tamper-evident bag numbers, notes' },
      ),
    ],
    finalHash,
  };
}

/** An entry as a step of the ceremony's course, with its transcript line and time; questions and signatures have sections of their own. */
function stepLine(entry: TranscriptEntry, ceremonyTime: string): Line[] {
  const d = entry.data;
  const s = (key: string) => String(d[key]);
  const what = ((): Line | undefined => {
    switch (entry.type) {
      case 'ceremony.start':
        return [`ceremony begun from the script (sha256 `, code((d.script as { sha256: string }).sha256), ')'];
      case 'ceremony.resumed':
        return [`resumed after the machine stopped, from entry ${s('after')}`];
      case 'ceremony.checked':
        return [`checked: ${s('what')}`];
      case 'device.bound':
        return [`device ${s('device')} bound${d.serial !== null && d.serial !== undefined ? `, serial ${s('serial')}` : ''}`];
      case 'step.begin':
        return [`began: ${s('what')}`];
      case 'key.ready':
        return [`${s('role')} key ${d.copiedFrom !== undefined ? '(the copy) opened' : d.generated === true ? 'made' : 'opened'} on ${s('device')}`];
      // A key copied under wrap (backup, restore): where, and the fingerprints the witnesses compare.
      case 'key-copy.source-checked':
      case 'key-copy.copy-found':
      case 'key-copy.key-unwrapped': {
        const done = {
          'key-copy.source-checked': 'key to copy checked',
          'key-copy.copy-found': 'copy made before the stop found',
          'key-copy.key-unwrapped': 'copy made',
        };
        return [`${done[entry.type]} on token ${s('token')} (serial ${s('serial')}), public key sha256 `, code(s('spkiSha256'))];
      }
      case 'key-copy.transport-made':
        return [`transport key made on token ${s('token')} (serial ${s('serial')}), sha256 `, code(s('spkiSha256'))];
      case 'key-copy.transport-trusted':
        return [`the Security Officer of token ${s('token')} (serial ${s('serial')}) trusted the transport key`];
      case 'key-copy.key-wrapped':
        return [`key wrapped on token ${s('token')} (serial ${s('serial')}), ${s('bytes')} bytes, in memory only`];
      case 'key-copy.proof':
        return [
          `the copy signed a fresh challenge: it ${d.verified === true ? 'verifies' : 'does NOT verify'} with ${(d.verifiedWith as { certificate: string }).certificate}`,
        ];
      case 'key.attestation':
        return [`${s('role')} key attested by the device that made it`];
      case 'prompt.secret':
        return [`${s('prompt')} (${d.answered === true ? 'answered' : 'not answered'}; what was typed is not recorded)`];
      case 'certificate.draft': {
        const lint = (d.lint ?? []) as Array<{ ok: boolean }>;
        return [
          `${s('profile')} certificate drafted, signed by a throw-away key and linted: ${lint.filter((f) => f.ok).length} of ${lint.length} checks passed`,
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
        return [`${entry.type}: ${s('message')}`];
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
  const at = entry.at.slice(0, 10) === ceremonyTime.slice(0, 10) ? entry.at.slice(11, 19) : `${entry.at.slice(0, 10)} ${entry.at.slice(11, 19)}`;
  return [[`line ${entry.seq + 1}, ${at}: `, ...what]];
}
