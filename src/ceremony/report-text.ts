/** A ceremony's report (report-model.ts) as Markdown, which prints as is and renders anywhere, or as plain text. */
import type { Block, CeremonyReport, Line } from './report-model.js';

export const renderMarkdown = (report: CeremonyReport): string => render(report, true);
export const renderText = (report: CeremonyReport): string => render(report, false);

const SIGNATURE = 'Signature: ______________________________    Date: ______________';

function render(report: CeremonyReport, md: boolean): string {
  const line = (text: Line) => text.map((span) => (typeof span === 'string' ? span : md ? `\`${span.code}\`` : span.code)).join('');
  const item = (text: Line) => `${md ? '-' : '*'} ${line(text)}`;
  const block = (b: Block): string => {
    switch (b.kind) {
      case 'list':
        return b.items.map(item).join('\n');
      case 'table':
        return md
          ? [`| ${b.header.join(' | ')} |`, `|${b.header.map(() => ' --- ').join('|')}|`, ...b.rows.map((r) => `| ${r.map(line).join(' | ')} |`)].join('\n')
          : b.rows.map((r) => r.map((cell, i) => `${b.header[i]}: ${line(cell)}`).join('\n  ')).join('\n');
      case 'paragraph':
        return line(b.text);
      case 'final-hash':
        return item(['Final hash: ', { code: b.hash }]);
      case 'blank':
        return `${b.label}: ${'_'.repeat(60)}`;
      case 'signatures':
        return b.witnesses.map((w) => `${w}\n\n${SIGNATURE}`).join('\n\n');
    }
  };
  const heading = (text: string) => (md ? `## ${text}` : `${text}\n${'-'.repeat(text.length)}`);
  return `${[
    md ? `# ${report.title}` : `${report.title}\n${'='.repeat(report.title.length)}`,
    report.summary.map(item).join('\n'),
    ...report.sections.flatMap((s) => [heading(s.heading), ...s.blocks.map(block)]),
  ].join('\n\n')}\n`;
}
