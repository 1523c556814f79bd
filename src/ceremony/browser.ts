/**
 * Headless Chromium (Debian's `chromium`), the renderer a ceremony's HTML report is printed to PDF
 * with. Each run gets a scratch directory of its own for the browser's profile, home and temporary
 * files, removed afterwards: nothing is left in the user's home or in /tmp. The browser runs in a
 * process group of its own, killed whole when it is done or hangs, so that no process it started
 * goes on writing in that directory. The page it is given is Keyward's own, with a
 * Content-Security-Policy that allows no script and no fetch.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fileProblem, keywardError } from '../errors.js';

/** The names Chromium goes by: Debian's first, then other distributions' and Google's builds. */
const BROWSERS = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/** Long enough for a cold start on a slow offline machine; a browser that hangs is not waited for forever. */
const BROWSER_TIMEOUT_MS = 120_000;

/** The end of the browser's standard error kept for the error that says it made nothing. */
const STDERR_KEPT = 4096;

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
      hint: "install Debian's chromium (apt-get install chromium; Ubuntu's is a snap, which cannot print here), or write --format html and print it from any browser",
    });
  }
  const scratch = mkdtempSync(join(tmpdir(), 'keyward-browser-'));
  let failure: unknown;
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
    const stderr = await runBrowser(browser, args, env);
    let result: Buffer | undefined;
    try {
      result = readFileSync(made);
    } catch {
      result = undefined;
    }
    const magic = 'pdf' in output ? '%PDF' : '\x89PNG';
    if (!result || result.subarray(0, 4).toString('latin1') !== magic) {
      throw keywardError('PDF_RENDER_FAILED', `${browser} made no ${'pdf' in output ? 'PDF' : 'screenshot'} of the report`, {
        hint:
          `run ${browser} --headless --print-to-pdf=test.pdf on any page to see what it lacks. Ubuntu's chromium and chromium-browser are snaps, ` +
          'which cannot read or write the temporary directory the page is in (a snap has a /tmp of its own): install a chromium that is not a snap, ' +
          'or write --format html and print it from a browser',
        details: { browser, stderr: stderr.trim().split('\n').slice(-10).join('\n') },
      });
    }
    return result;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    removeScratch(scratch, failure);
  }
}

/**
 * Runs the browser in a process group of its own and kills the whole group when the browser exits
 * or hangs: the processes it started (zygotes, renderers) would go on writing in its scratch
 * directory. Returns what it said on standard error if it failed, else ''.
 */
function runBrowser(browser: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(browser, args, { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = `${stderr}${chunk.toString()}`.slice(-STDERR_KEPT);
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    };
    const timer = setTimeout(() => {
      stderr += `\n${browser} did not finish in ${BROWSER_TIMEOUT_MS / 1000} s, and was killed`;
      killGroup();
    }, BROWSER_TIMEOUT_MS);
    child.on('exit', killGroup);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve(error.message);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? '' : `${browser} ${signal ? `was killed (${signal})` : `exited with code ${String(code)}`}\n${stderr}`);
    });
  });
}

/**
 * Removes the browser's scratch directory, trying again while something still lets go of it. A
 * failure to remove it never hides the error that came first; with none, it is the error.
 */
function removeScratch(scratch: string, failure: unknown): void {
  try {
    rmSync(scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (error) {
    if (failure !== undefined) return;
    throw keywardError('BROWSER_CLEANUP_FAILED', `the headless browser's scratch directory ${scratch} could not be removed: ${fileProblem(error)}`, {
      hint: 'something the browser started may still be writing there: remove the directory once it stops, then make the report again',
      cause: error,
    });
  }
}
