/**
 * The printable report of a ceremony, from its transcript (verified first: a report of a tampered
 * transcript is refused): what was done, on which devices, the fingerprints, serials and CRL
 * numbers, the files and their hashes, who witnessed, the transcript's final hash, and lines for
 * the witnesses to sign on paper. Markdown (prints as is, renders anywhere) or plain text.
 */
import type { StepRecord } from '../ca/steps/record.js';
import { verifyTranscript, type TranscriptEntry } from './transcript.js';

export type ReportFormat = 'markdown' | 'text';

export function reportOf(transcriptPath: string, format: ReportFormat): string {
  const { entries, finalHash, signatures } = verifyTranscript(transcriptPath);
  return renderReport(entries, finalHash, signatures, format);
}

export function renderReport(
  entries: TranscriptEntry[],
  finalHash: string,
  signatures: Array<{ signer: string; publicKeySha256: string }>,
  format: ReportFormat,
): string {
  const md = format === 'markdown';
  const start = entries[0]!.data as {
    title: string;
    kind: string;
    time: string;
    script: { file: string; sha256: string };
    caDirectory?: string;
    repository?: string;
    witnesses: string[];
    rehearsal?: unknown;
  };
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
  const heading = (text: string) => (md ? `## ${text}` : `${text}\n${'-'.repeat(text.length)}`);
  const item = (text: string) => `${md ? '-' : '*'} ${text}`;
  const code = (text: string) => (md ? `\`${text}\`` : text);
  const table = (header: string[], rows: string[][]) =>
    md
      ? [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
      : rows.map((r) => r.map((cell, i) => `${header[i]}: ${cell}`).join('\n  ')).join('\n');
  const sections = [
    md ? `# ${start.title}` : `${start.title}\n${'='.repeat(start.title.length)}`,
    [
      item(`Ceremony: ${start.kind}${start.rehearsal ? ' (REHEARSAL on stand-in devices: not a real ceremony)' : ''}`),
      item(`Time: ${start.time}`),
      item(`Script: ${start.script.file}, sha256 ${code(start.script.sha256)}`),
      item(start.repository !== undefined ? `TUF repository: ${start.repository}` : `CA directory: ${start.caDirectory}`),
      ...of('ceremony.resumed').map((e) => item(`Resumed at ${e.at} after the machine stopped, from entry ${String(e.data.after)} (${code('--resume')})`)),
      item(`Outcome: ${end}${failed ? `: stopped at ${failed.stage}, ${failed.code}: ${failed.message}` : ''}`),
    ].join('\n'),
    heading('Devices'),
    table(
      ['Device', 'URI', 'Serial'],
      devices.map((e) => [String(e.data.device), code(String(e.data.uri)), String(e.data.serial ?? 'not bound')]),
    ),
    heading('Keys'),
    table(
      ['Role', 'Made or used', 'Device', 'Public key SHA-256'],
      steps.flatMap((s) =>
        s.keys.map((k) => [
          k.role,
          k.copiedFrom ? 'copied' : k.generated ? 'made' : madeBeforeStop.has(k.publicKey) ? 'made (before the stop)' : 'used',
          k.device,
          code(k.spkiSha256),
        ]),
      ),
    ),
    heading('Certificates'),
    table(
      ['Profile', 'Subject', 'Serial', 'Valid until', 'SHA-256'],
      steps.flatMap((s) => s.certificates.map((c) => [c.profile, c.subject, code(c.serial), c.notAfter, code(c.sha256)])),
    ),
    ...(steps.some((s) => s.crls.length)
      ? [
          heading('CRLs'),
          table(
            ['Issuer', 'Number', 'Next update', 'SHA-256'],
            steps.flatMap((s) => s.crls.map((c) => [c.role, String(c.number), c.nextUpdate ?? '', code(c.sha256)])),
          ),
        ]
      : []),
    heading('Files written'),
    table(
      ['File', 'SHA-256'],
      [
        ...steps.flatMap((s) => s.files.map((f) => [f.path, f.removed ? 'removed' : code(f.sha256 ?? '')])),
        ...of('output.written').map((e) => [String(e.data.path), code(String(e.data.sha256))]),
      ],
    ),
    heading('Questions asked'),
    of('prompt')
      .map((e) => item(`${String(e.data.question)}: ${String(e.data.answer)}`))
      .join('\n'),
    heading('Transcript'),
    [
      item(`${entries.length} entries, hash chain intact`),
      ...signatures.map((s) => item(`signed by the ${s.signer} key, public key SHA-256 ${code(s.publicKeySha256)}`)),
      item(`Final hash: ${code(finalHash)}`),
    ].join('\n'),
    heading('Witnesses'),
    `We witnessed this ceremony and checked the final hash above against ${code('keyward ceremony verify')}.`,
    start.witnesses.map((w) => `\n${w}\n\nSignature: ______________________________    Date: ______________`).join('\n'),
  ];
  return `${sections.join('\n\n')}\n`;
}
