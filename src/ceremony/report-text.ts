/** A ceremony's report (report-model.ts) as Markdown, which prints as is and renders anywhere, or as plain text. */
import type { Block, CeremonyReport, Line } from './report-model.js';

export const renderMarkdown = (report: CeremonyReport): string => render(report, true);
export const renderText = (report: CeremonyReport): string => render(report, false);

const SIGNATURE = 'Signature: ______________________________    Date: ______________';

/**
 * Transcript text is untrusted; the report model has made it printable on one line. In Markdown it
 * is escaped so that it is only ever text: the characters that would start an HTML tag or entity,
 * a link or image, a code span, emphasis or strikethrough, or end a table cell are escaped anywhere;
 * at the start of a line, what would make it a block of its own (a heading, a list, a quote, a rule,
 * code) is escaped too; a code span is fenced with more backticks than it holds (CommonMark).
 */
const markdownText = (text: string) => text.replace(/[\\`*_~<>[\]|&]/g, '\\$&');

/**
 * A line of Markdown that text from the transcript may begin: the mark that would make it a block
 * of its own (a list item, a heading, a rule) escaped, and its leading spaces written as entities,
 * which Markdown neither strips nor takes for code.
 */
function blockStart(line: string): string {
  const spaces = /^ */.exec(line)![0].length;
  const rest = line.slice(spaces).replace(/^(?:[-+=#]|\d+[.)])/, (mark) => `${mark.slice(0, -1)}\\${mark.slice(-1)}`);
  return `${'&#32;'.repeat(spaces)}${rest}`;
}

/**
 * A code span holding `text` whole: fenced with one backtick more than its longest run of them, and
 * padded with a space where it begins or ends with a backtick (or with a space at both ends, which
 * CommonMark would strip); in a table cell, a bar is `\|` (GFM reads it so even in code).
 */
function markdownCode(text: string, inTable: boolean): string {
  if (text === '') return '';
  const fence = '`'.repeat(Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length)) + 1);
  const pad = /^`|`$/.test(text) || (/^ .* $/.test(text) && /[^ ]/.test(text)) ? ' ' : '';
  return `${fence}${pad}${inTable ? text.replaceAll('|', '\\|') : text}${pad}${fence}`;
}

function render(report: CeremonyReport, md: boolean): string {
  const text = (plain: string) => (md ? markdownText(plain) : plain);
  const spans = (line: Line, inTable = false) =>
    line.map((span) => (typeof span === 'string' ? text(span) : md ? markdownCode(span.code, inTable) : span.code)).join('');
  const start = (rendered: string) => (md ? blockStart(rendered) : rendered);
  const item = (line: Line) => `${md ? '-' : '*'} ${start(spans(line))}`;
  const block = (b: Block): string => {
    switch (b.kind) {
      case 'list':
        return b.items.map(item).join('\n');
      case 'table':
        return md
          ? [
              `| ${b.header.join(' | ')} |`,
              `|${b.header.map(() => ' --- ').join('|')}|`,
              ...b.rows.map((r) => `| ${r.map((cell) => spans(cell, true)).join(' | ')} |`),
            ].join('\n')
          : b.rows.map((r) => r.map((cell, i) => `${b.header[i]}: ${spans(cell)}`).join('\n  ')).join('\n');
      case 'paragraph':
        return start(spans(b.text));
      case 'final-hash':
        return item(['Final hash: ', { code: b.hash }]);
      case 'blank':
        return `${text(b.label)}: ${'_'.repeat(60)}`;
      case 'signatures':
        return b.witnesses.map((w) => `${start(text(w))}\n\n${SIGNATURE}`).join('\n\n');
    }
  };
  const heading = (title: string) => (md ? `## ${text(title)}` : `${title}\n${'-'.repeat(title.length)}`);
  return `${[
    // In a heading, a # anywhere is escaped: at its end, Markdown would take it for the heading's closing marks.
    md ? `# ${text(report.title).replaceAll('#', '\\#')}` : `${report.title}\n${'='.repeat(report.title.length)}`,
    report.summary.map(item).join('\n'),
    ...report.sections.flatMap((s) => [heading(s.heading), ...s.blocks.map(block)]),
  ].join('\n\n')}\n`;
}
