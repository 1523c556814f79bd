/**
 * A ceremony's report (report-model.ts) as one self-contained HTML page to print on A4 and sign:
 * inline CSS, no script, nothing fetched (its Content-Security-Policy forbids both, should anything
 * slip through), the transcript's final hash as text and as a QR code (inline SVG), and on every
 * printed page the final hash and the page number, so that pages cannot be mixed with another
 * report's. A transcript is input from outside: every text in it is escaped here, and only here.
 */
import { encode } from 'uqr';
import { keywardError } from '../errors.js';
import type { Block, CeremonyReport, Line } from './report-model.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe to place in HTML, as element content or as a quoted attribute. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** The final hash as a QR code: an SVG path of its dark modules, with the quiet zone of four the standard asks for. */
export function qrSvg(text: string): string {
  const { size, data } = encode(text, { ecc: 'M', border: 4 });
  const path = data.flatMap((row, y) => row.flatMap((dark, x) => (dark ? [`M${x} ${y}h1v1h-1z`] : []))).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges" role="img" aria-label="QR code of the final hash"><rect width="${size}" height="${size}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`;
}

const STYLE = `
@page { size: A4; margin: 16mm 14mm 18mm; }
* { box-sizing: border-box; }
html { font: 9.5pt/1.35 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #000; background: #fff; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0 auto; max-width: 182mm; padding: 8mm 0; }
@media print { body { padding: 0; max-width: none; } }
h1 { font-size: 16pt; margin: 0 0 3mm; }
h2 { font-size: 11.5pt; margin: 6mm 0 2mm; padding-bottom: 0.5mm; border-bottom: 0.5pt solid #000; break-after: avoid; }
ul { margin: 0; padding-left: 5mm; }
li { margin: 0.4mm 0; }
table { width: 100%; border-collapse: collapse; font-size: 8.5pt; }
th, td { border: 0.5pt solid #666; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #e8e8e8; }
tbody, tr { break-inside: avoid; }
tr.above td { border-bottom: none; }
tr.fingerprint td { border-top: none; padding-top: 0; font-size: 8pt; }
tr.fingerprint code { white-space: nowrap; }
td { overflow-wrap: break-word; }
code { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.92em; overflow-wrap: break-word; }
p { margin: 2mm 0; }
.rehearsal { border: 1.5pt solid #000; padding: 2mm 3mm; margin-bottom: 3mm; font-weight: bold; }
.final { display: flex; gap: 5mm; align-items: center; margin-top: 3mm; padding: 3mm; border: 1pt solid #000; break-inside: avoid; }
.final .qr { flex: none; width: 40mm; height: 40mm; }
.final .hash { font: bold 9pt "DejaVu Sans Mono", "Liberation Mono", monospace; white-space: nowrap; }
.final .label { font-weight: bold; margin-bottom: 1.5mm; }
.together { break-inside: avoid; }
.witness { break-inside: avoid; margin-top: 7mm; }
.witness .name { font-weight: bold; }
.sign { display: grid; grid-template-columns: 1fr 45mm; gap: 8mm; margin-top: 9mm; }
.sign div { border-top: 0.75pt solid #000; padding-top: 0.8mm; font-size: 8pt; }
.blank { margin-top: 9mm; }
.blank div { border-top: 0.75pt solid #000; padding-top: 0.8mm; font-size: 8pt; margin-top: 9mm; }
`;

/** The footer of every printed page: the final hash (hex, checked: it is written into CSS) and the page number. */
function pageFooter(finalHash: string): string {
  if (!/^[0-9a-f]{64}$/.test(finalHash)) throw keywardError('TRANSCRIPT_TAMPERED', 'the final hash of the transcript is not a SHA-256 in hex');
  return `@page { @bottom-left { content: "Transcript final hash ${finalHash}"; font: 7pt "DejaVu Sans Mono", monospace; } @bottom-right { content: "page " counter(page) " of " counter(pages); font: 7pt "DejaVu Sans", sans-serif; } }`;
}

/** A table; its fingerprint column, if it has one, under each row across the table: one unbroken line to compare. */
function table(b: Extract<Block, { kind: 'table' }>, line: (text: Line) => string): string {
  if (b.rows.length === 0) return '<p>None.</p>';
  const columns = b.fingerprint ? b.header.length - 1 : b.header.length;
  const cells = (r: Line[]) => r.slice(0, columns).map((cell) => `<td>${line(cell)}</td>`);
  const header = b.header.slice(0, columns).map((h) => `<th>${escapeHtml(h)}</th>`);
  const body = b.rows.map((r) =>
    b.fingerprint
      ? `<tbody><tr class="above">${cells(r).join('')}</tr><tr class="fingerprint"><td colspan="${columns}">${escapeHtml(b.header.at(-1)!)} ${line(r.at(-1)!)}</td></tr></tbody>`
      : `<tbody><tr>${cells(r).join('')}</tr></tbody>`,
  );
  return `<table><thead><tr>${header.join('')}</tr></thead>\n${body.join('\n')}\n</table>`;
}

export function renderHtml(report: CeremonyReport): string {
  const line = (text: Line) => text.map((span) => (typeof span === 'string' ? escapeHtml(span) : `<code>${escapeHtml(span.code)}</code>`)).join('');
  const block = (b: Block): string => {
    switch (b.kind) {
      case 'list':
        return `<ul>${b.items.map((i) => `<li>${line(i)}</li>`).join('\n')}</ul>`;
      case 'table':
        return table(b, line);
      case 'paragraph':
        return `<p>${line(b.text)}</p>`;
      case 'final-hash':
        return `<div class="final">${qrSvg(b.hash)}<div><div class="label">Final hash of the transcript (SHA-256)</div><div class="hash" id="final-hash">${escapeHtml(b.hash)}</div><p>The QR code holds the same hash. Compare it with the output of <code>keyward ceremony verify</code> and write it down.</p></div></div>`;
      case 'blank':
        return `<div class="blank">${escapeHtml(b.label)}:<div></div><div></div></div>`;
      case 'signatures':
        return b.witnesses
          .map((w) => `<div class="witness"><div class="name">${escapeHtml(w)}</div><div class="sign"><div>Signature</div><div>Date</div></div></div>`)
          .join('\n');
    }
  };
  // The final hash and the signature lines each stay on one page with their heading.
  const section = (s: CeremonyReport['sections'][number]) =>
    `<section${s.blocks.some((b) => b.kind === 'signatures' || b.kind === 'final-hash') ? ' class="together"' : ''}>\n<h2>${escapeHtml(s.heading)}</h2>\n${s.blocks.map(block).join('\n')}\n</section>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)}</title>
<style>${STYLE}${pageFooter(report.finalHash)}
</style>
</head>
<body>
<header>
${report.rehearsal ? '<div class="rehearsal">REHEARSAL on stand-in devices: not a real ceremony</div>\n' : ''}<h1>${escapeHtml(report.title)}</h1>
<ul>${report.summary.map((i) => `<li>${line(i)}</li>`).join('\n')}</ul>
</header>
${report.sections.map(section).join('\n')}
</body>
</html>
`;
}
