/**
 * Headless Chromium (Debian's `chromium`), the renderer a ceremony's HTML report is printed to PDF
 * with. Each run gets a scratch directory of its own for the browser's profile, home and temporary
 * files, removed afterwards: nothing is left in the user's home or in /tmp. The page it is given is
 * Keyward's own, with a Content-Security-Policy that allows no script and no fetch.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keywardError } from '../errors.js';

/** The names Chromium goes by: Debian's first, then other distributions' and Google's builds. */
const BROWSERS = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/** Long enough for a cold start on a slow offline machine; a browser that hangs is not waited for forever. */
const BROWSER_TIMEOUT_MS = 120_000;

/** The first Chromium on PATH, or undefined. */
export function findChromium(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    for (const name of BROWSERS) {
      const file = join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** What to make of the page: a PDF (its own @page size), or a screenshot of a window of that size. */
export type BrowserOutput = { pdf: true } | { screenshot: { width: number; height: number } };

/** Renders `html` in headless Chromium and returns the PDF or PNG it made. */
export async function renderPage(html: string, output: BrowserOutput): Promise<Buffer> {
  const browser = findChromium();
  if (!browser) {
    throw keywardError('PDF_RENDERER_MISSING', `no headless browser to render the report with: none of ${BROWSERS.join(', ')} is on PATH`, {
      hint: "install Debian's chromium (apt-get install chromium), or write --format html and print it from any browser",
    });
  }
  const scratch = mkdtempSync(join(tmpdir(), 'keyward-browser-'));
  try {
    const page = join(scratch, 'report.html');
    const made = join(scratch, 'pdf' in output ? 'report.pdf' : 'report.png');
    writeFileSync(page, html);
    const args = [
      '--headless',
      // Chromium refuses to run as root inside its sandbox.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--disable-sync',
      '--disable-background-networking',
      '--disable-component-update',
      `--user-data-dir=${join(scratch, 'profile')}`,
      ...('pdf' in output
        ? ['--no-pdf-header-footer', `--print-to-pdf=${made}`]
        : ['--hide-scrollbars', `--window-size=${output.screenshot.width},${output.screenshot.height}`, `--screenshot=${made}`]),
      pathToFileURL(page).href,
    ];
    const env = { ...process.env, HOME: scratch, TMPDIR: scratch, XDG_CONFIG_HOME: scratch, XDG_CACHE_HOME: scratch };
    const stderr = await new Promise<string>((resolve) => {
      execFile(browser, args, { env, timeout: BROWSER_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 4 << 20 }, (error, _stdout, err) =>
        resolve(error ? `${error.message}\n${err}` : ''),
      );
    });
    let result: Buffer | undefined;
    try {
      result = readFileSync(made);
    } catch {
      result = undefined;
    }
    const magic = 'pdf' in output ? '%PDF' : '\x89PNG';
    if (!result || result.subarray(0, 4).toString('latin1') !== magic) {
      throw keywardError('PDF_RENDER_FAILED', `${browser} made no ${'pdf' in output ? 'PDF' : 'screenshot'} of the report`, {
        hint: `run ${browser} --headless --print-to-pdf=test.pdf on any page to see what it lacks; or write --format html and print it from a browser`,
        details: { browser, stderr: stderr.trim().split('\n').slice(-10).join('\n') },
      });
    }
    return result;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
