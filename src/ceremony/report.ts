/**
 * The printable report of a ceremony, from its transcript (verified first: a report of a tampered
 * transcript is refused): what was done, step by step, on which devices, the fingerprints, serials
 * and CRL numbers, the files and their hashes, who witnessed, the transcript's final hash, and lines
 * for the witnesses to sign on paper. Markdown (prints as is, renders anywhere), plain text, or one
 * self-contained HTML page for A4 (report-pdf.ts prints it to PDF).
 */
import { renderPage } from './browser.js';
import { ceremonyReport } from './report-model.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown, renderText } from './report-text.js';
import { verifyTranscript } from './transcript.js';

export type ReportFormat = 'markdown' | 'text' | 'html';

/**
 * The report of the transcript at `transcriptPath`, in `format`; TRANSCRIPT_TAMPERED if it does not
 * verify, TRANSCRIPT_MALFORMED if it lacks a field the report shows (or has it of another kind).
 */
export function reportOf(transcriptPath: string, format: ReportFormat): string {
  const report = ceremonyReport(transcriptPath, verifyTranscript(transcriptPath));
  return format === 'html' ? renderHtml(report) : format === 'markdown' ? renderMarkdown(report) : renderText(report);
}

/** The HTML report printed to PDF by headless Chromium (browser.ts): PDF_RENDERER_MISSING where none is installed. */
export function pdfReportOf(transcriptPath: string): Promise<Buffer> {
  return renderPage(reportOf(transcriptPath, 'html'), { pdf: true });
}
