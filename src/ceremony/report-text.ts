/** A ceremony's report (report-model.ts) as Markdown, which prints as is and renders anywhere, or as plain text. */
import type { Block, CeremonyReport, Line } from './report-model.js';

export const renderMarkdown = (report: CeremonyReport): string => render(report, true);
export const renderText = (report: CeremonyReport): string => render(report, false);

const SIGNATURE = 'Signature: ______________________________    Date: ______________';

/**
 * Transcript text is untrusted: in Markdown, the characters that would make it more than text (an
 * HTML tag or entity a viewer renders, a link or image, a code span, a table cell's end) are escaped,
 * and a code span that holds a backtick is fenced with two.
 */
const markdownText = (text: string) => text.replace(/[\\`<>[\]|&]/g, '\\$&');
const markdownCode = (text: string) => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);

function render(report: CeremonyReport, md: boolean): string {
  const text = (plain: string) => (md ? markdownText(plain) : plain);
  const line = (spans: Line) => spans.map((span) => (typeof span === 'string' ? text(span) : md ? markdownCode(span.code) : span.code)).join('');
  const item = (spans: Line) => `${md ? '-' : '*'} ${line(spans)}`;
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
        return `${text(b.label)}: ${'_'.repeat(60)}`;
      case 'signatures':
        return b.witnesses.map((w) => `${text(w)}\n\n${SIGNATURE}`).join('\n\n');
    }
  };
  const heading = (title: string) => (md ? `## ${text(title)}` : `${title}\n${'-'.repeat(title.length)}`);
  return `${[
    md ? `# ${text(report.title)}` : `${report.title}\n${'='.repeat(report.title.length)}`,
    report.summary.map(item).join('\n'),
    ...report.sections.flatMap((s) => [heading(s.heading), ...s.blocks.map(block)]),
  ].join('\n\n')}\n`;
}
