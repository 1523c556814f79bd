/**
 * The printable report of a real root ceremony (on a SoftHSM token) in a real browser: Debian's
 * headless chromium screenshots the HTML report and zbarimg decodes its QR code to the final hash
 * `keyward ceremony verify` gives; the page shows that hash and the fingerprints as text, and the
 * witness names a hostile script gave it (markup) as text, not as markup. The PDF is an A4 PDF whose
 * text (pdftotext) holds the hash and the fingerprints. A tampered transcript gets no report in any
 * format, and without a browser --format pdf says which package to install. A forged transcript
 * (unfinished, so unsigned, and verifying) adds no line, markup or terminal escape to any format
 * (the Markdown read by cmark-gfm as GitHub reads it), and one lacking a field gets a clean error.
 */
import test, { type ExecutionContext } from 'ava';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { reportOf } from '../../src/ceremony/report.js';
import { runCeremony } from '../../src/ceremony/runner.js';
import { readScript } from '../../src/ceremony/script.js';
import { TranscriptWriter } from '../../src/ceremony/transcript.js';
import type { KeywardError } from '../../src/errors.js';
import { createTestToken } from '../../src/testing/softhsm.js';
import { keystoreFactory, quiet, room, rootScript, tokenSerial, writeScript } from '../harness/ceremony.js';
import { keyward, run, type RunResult } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

/** Witnesses whose names are markup: a script is input from outside, and so is its transcript. */
const HOSTILE_WITNESSES = ['Mallory <script>document.title="owned"</script>', 'Eve <img src=x onerror="document.title=1">'];

/** A real root ceremony on a throw-away token, its witnesses named with markup; its transcript, final hash and fingerprints. */
async function rootCeremony(t: ExecutionContext) {
  const token = await createTestToken();
  t.teardown(() => token.close());
  const dir = tempDir(t, 'keyward-report-');
  const text = rootScript({ label: token.label, serial: tokenSerial(token) }).replace(
    '  - Alice Auditor\n  - Bob Security\n',
    HOSTILE_WITNESSES.map((w) => `  - ${JSON.stringify(w)}\n`).join(''),
  );
  const result = await runCeremony(readScript(writeScript(dir, 'root.yaml', text)), {
    out: join(dir, 'out'),
    keystore: keystoreFactory(token.userPin),
    interaction: quiet,
    witnessing: room(),
  });
  const verified = await keyward(['ceremony', 'verify', result.transcript, '--json']);
  t.is(verified.code, 0, verified.stderr);
  const { finalHash } = JSON.parse(verified.stdout) as { finalHash: string };
  const record = result.records[0]!;
  const fingerprints = [record.keys[0]!.spkiSha256, record.certificates[0]!.sha256, record.certificates[0]!.serial];
  return { dir, transcript: result.transcript, finalHash, fingerprints };
}

/** A tool the tests drive, with what to install when it is missing (npm test installs them all). */
async function tool(command: string, args: string[], debianPackage: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  try {
    return await run(command, args, options);
  } catch (error) {
    throw new Error(`${command} is not installed (npm test installs it; Debian: apt-get install ${debianPackage}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Headless chromium on a page, with its profile, home and temporary files in `dir`. */
function chromium(dir: string, page: string, args: string[]): Promise<RunResult> {
  const root = process.getuid?.() === 0 ? ['--no-sandbox'] : []; // chromium refuses root in its sandbox
  return tool('chromium', ['--headless', ...root, '--disable-gpu', `--user-data-dir=${join(dir, 'profile')}`, ...args, pathToFileURL(page).href], 'chromium', {
    env: { ...process.env, HOME: dir, TMPDIR: dir },
  });
}

test('the HTML report in headless chromium: its QR code decodes to the final hash, which it shows as text with the fingerprints; markup in the transcript stays text', async (t) => {
  const ceremony = await rootCeremony(t);
  const page = join(ceremony.dir, 'report.html');
  const written = await keyward(['ceremony', 'report', ceremony.transcript, '--format', 'html', '--out', page]);
  t.is(written.code, 0, written.stderr);
  const html = readFileSync(page, 'utf8');
  const escaped = ['Mallory &lt;script&gt;document.title=&quot;owned&quot;&lt;/script&gt;', 'Eve &lt;img src=x onerror=&quot;document.title=1&quot;&gt;'];
  for (const name of escaped) t.true(html.includes(name), `${name}: escaped`);
  const rest = escaped.reduce((text, name) => text.replaceAll(name, ''), html);
  t.false(/<script|<img|<link|<iframe|src=|href=|url\(/i.test(rest), 'no script, no image, nothing fetched: one self-contained page');

  const browser = tempDir(t, 'keyward-chromium-');
  const screenshot = join(browser, 'report.png');
  const shot = await chromium(browser, page, ['--hide-scrollbars', '--window-size=900,2400', `--screenshot=${screenshot}`]);
  t.true(existsSync(screenshot), shot.stderr);
  const decoded = await tool('zbarimg', ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', screenshot], 'zbar-tools');
  t.is(decoded.code, 0, `zbarimg found no QR code in the screenshot: ${decoded.stderr}`);
  t.is(decoded.stdout.trim(), ceremony.finalHash, 'the QR code is the final hash keyward ceremony verify gives');

  // The page as the browser parsed it: the hash and the fingerprints are text in it, and the witnesses' markup is text too.
  const dom = await chromium(browser, page, ['--dump-dom']);
  t.is(dom.code, 0, dom.stderr);
  const body = dom.stdout;
  t.regex(body, new RegExp(`<div class="hash" id="final-hash">${ceremony.finalHash}</div>`), 'the final hash as text');
  for (const value of ceremony.fingerprints) t.true(body.includes(value), `${value} is shown`);
  t.false(/<script|<img/i.test(body), 'the browser made no element of the witness names');
  t.true(body.includes('Mallory &lt;script&gt;document.title="owned"&lt;/script&gt;'), 'the hostile name is shown as it was written');
  t.regex(body, /<title>Test root ceremony<\/title>/, 'no script ran (it would have changed the title)');
});

test('the PDF report: an A4 PDF whose text holds the final hash and the fingerprints, made without leaving anything behind', async (t) => {
  const ceremony = await rootCeremony(t);
  const pdf = join(ceremony.dir, 'report.pdf');
  const scratch = tempDir(t, 'keyward-report-tmp-'); // the command's temporary directory: the browser's profile and pages
  const made = await keyward(['ceremony', 'report', ceremony.transcript, '--format', 'pdf', '--out', pdf, '--json'], {
    env: { ...process.env, TMPDIR: scratch },
  });
  t.is(made.code, 0, made.stderr);
  t.like(JSON.parse(made.stdout), { format: 'pdf', out: pdf });
  t.is(readFileSync(pdf).subarray(0, 5).toString('latin1'), '%PDF-');
  t.deepEqual(readdirSync(scratch), [], "the browser's scratch directory is gone");
  const info = await tool('pdfinfo', [pdf], 'poppler-utils');
  t.regex(info.stdout, /Page size: .*\(A4\)/);
  const text = await tool('pdftotext', [pdf, '-'], 'poppler-utils');
  t.is(text.code, 0, text.stderr);
  t.true(text.stdout.includes(ceremony.finalHash), 'the final hash is in the PDF as text');
  for (const value of ceremony.fingerprints) t.true(text.stdout.includes(value), `${value} is in the PDF, on one line`);
  t.regex(text.stdout, /Mallory <script>document\.title="owned"<\/script>/, 'the witness is named as written');

  const noOut = await keyward(['ceremony', 'report', ceremony.transcript, '--format', 'pdf']);
  t.is(noOut.code, 2);
  t.regex(noOut.stderr, /--format pdf writes a file: give --out FILE/);
  // Without a browser on PATH: exit 5, the package to install, no file.
  const nowhere = tempDir(t, 'keyward-empty-path-');
  const missing = await keyward(['ceremony', 'report', ceremony.transcript, '--format', 'pdf', '--out', join(ceremony.dir, 'none.pdf'), '--json'], {
    env: { ...process.env, PATH: nowhere },
  });
  t.is(missing.code, 5, missing.stderr);
  t.like(JSON.parse(missing.stdout), { error: { code: 'PDF_RENDERER_MISSING' } });
  t.regex(JSON.parse(missing.stdout).error.hint as string, /apt-get install chromium/);
  t.false(existsSync(join(ceremony.dir, 'none.pdf')));
});

test('a tampered transcript gets no report, in any format', async (t) => {
  const ceremony = await rootCeremony(t);
  const lines = readFileSync(ceremony.transcript, 'utf8').trimEnd().split('\n');
  const tampered = join(ceremony.dir, 'tampered.jsonl');
  // A witness's answer changed after the fact.
  t.true(lines[3]!.includes('"answer":"yes"'));
  writeFileSync(tampered, `${lines.map((line, i) => (i === 3 ? line.replace('"answer":"yes"', '"answer":"no"') : line)).join('\n')}\n`);
  for (const format of ['markdown', 'text', 'html', 'pdf']) {
    const out = join(ceremony.dir, `report.${format}`);
    const refused = await keyward(['ceremony', 'report', tampered, '--format', format, '--out', out]);
    t.is(refused.code, 6, `${format}: ${refused.stderr}`);
    t.regex(refused.stderr, /line 4 \(entry 3\) was changed/, format);
    t.false(existsSync(out), `${format}: no report written`);
  }
});

test('the Markdown report keeps markup in the transcript as text: tags, links and table cells escaped', async (t) => {
  const ceremony = await rootCeremony(t);
  const written = await keyward(['ceremony', 'report', ceremony.transcript, '--format', 'markdown']);
  t.is(written.code, 0, written.stderr);
  t.true(written.stdout.includes('Mallory \\<script\\>document.title="owned"\\</script\\>'), written.stdout);
  t.true(written.stdout.includes('Eve \\<img src=x onerror="document.title=1"\\>'));
  t.false(/(^|[^\\])</.test(written.stdout), 'no tag a Markdown viewer would render');
  t.true(written.stdout.includes(`\`${ceremony.finalHash}\``), 'the final hash as code');
});

/**
 * A transcript anyone can write: hash-chained by Keyward's own writer and unfinished, so it needs no
 * signature and verifies, saying whatever its author likes in any field.
 */
function forged(dir: string, entries: Array<[type: string, data: Record<string, unknown>]>): string {
  const file = join(dir, `forged-${readdirSync(dir).length}.jsonl`);
  const writer = TranscriptWriter.create(file);
  for (const [type, data] of entries) writer.append(type, data, new Date('2026-01-01T00:00:00Z'));
  writer.close();
  return file;
}

const forgedStart = (data: Record<string, unknown> = {}): [string, Record<string, unknown>] => [
  'ceremony.start',
  {
    title: 'Root ceremony',
    kind: 'root',
    time: '2026-01-01T00:00:00.000Z',
    script: { file: 'root.yaml', sha256: 'ab' },
    caDirectory: '/ca',
    witnesses: ['Alice'],
    ...data,
  },
];

/** Markdown as GitHub renders it (cmark-gfm with its extensions), raw HTML let through so that any that got into the report shows. */
async function gfm(dir: string, markdown: string): Promise<string> {
  const file = join(dir, 'report.md');
  writeFileSync(file, markdown);
  const html = await tool('cmark-gfm', ['--unsafe', '-e', 'table', '-e', 'autolink', '-e', 'strikethrough', file], 'cmark-gfm');
  if (html.code !== 0) throw new Error(`cmark-gfm failed: ${html.stderr}`);
  return html.stdout;
}

test('a forged transcript adds no line, no markup and no terminal escape to the report, in any format: its text is shown on one line, escapes visible', async (t) => {
  const dir = tempDir(t, 'keyward-report-forged-');
  const forgedStep = 'line 7, 00:00:00: root key made on the real HSM';
  const transcript = forged(dir, [
    forgedStart({
      title: 'Root ceremony\r\n# Approved by the board',
      script: { file: 'root.yaml', sha256: 'ab`` <img src=x onerror=alert(1)> ``' },
      witnesses: [
        `Alice\n\n- ${forgedStep}`,
        'Eve\u001b[2K\u001b[1A\u009b2J\u007f',
        '# Mallory',
        '1. Trent',
        '    indented',
        '- Peggy *bold* ~~struck~~ _em_ &amp; [a](x) ![i](y) \\',
      ],
    }),
    ['device.bound', { device: 'hsm | forged cell', uri: 'pkcs11:token=a|b`c``d', serial: '1' }],
    ['output.written', { name: 'certificate', path: 'root.pem', sha256: '`|`' }],
    ['prompt', { question: '> quoted', answer: 'yes\u2028no\u202e' }],
  ]);

  const reports: Record<string, string> = {};
  for (const format of ['markdown', 'text', 'html']) {
    const report = await keyward(['ceremony', 'report', transcript, '--format', format]);
    t.is(report.code, 0, report.stderr);
    t.false(/(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(report.stdout), `${format}: no control character reaches the terminal`);
    reports[format] = report.stdout;
  }
  for (const format of ['markdown', 'text'])
    t.false(
      reports[format]!.split('\n').some((line) => line.replace(/^[-*\s]*/, '').startsWith(forgedStep)),
      `${format}: no line the transcript's author wrote`,
    );
  for (const format of ['text', 'html']) {
    t.true(reports[format]!.includes(`Alice\\n\\n- ${forgedStep}`), `${format}: the name as written, its newlines shown`);
    t.true(reports[format]!.includes('Eve\\u001b[2K\\u001b[1A\\u009b2J\\u007f'), `${format}: the escapes shown`);
  }

  const html = await gfm(dir, reports.markdown!);
  t.false(/<img|<a |<em|<strong|<del|<blockquote|<ol|<pre|<hr/i.test(html), html);
  t.deepEqual(
    [...html.matchAll(/<h(\d)>(.*?)<\/h\d>/g)].map((m) => `${m[1]} ${m[2]}`),
    [
      '1 Root ceremony\\r\\n# Approved by the board',
      ...['Steps', 'Devices', 'Keys', 'Certificates', 'Files written', 'Questions asked', 'Transcript', 'Witnesses'].map((h) => `2 ${h}`),
    ],
    "the title, on one line, and the report's own headings: none from the transcript",
  );
  t.true(html.includes('<code>ab`` &lt;img src=x onerror=alert(1)&gt; ``</code>'), 'the script hash as code, whole');
  t.true(html.includes('<code>`|`</code>'), 'a code span in a table cell holding a backtick and a bar');
  t.true(html.includes('<code>pkcs11:token=a|b`c``d</code>'));
  t.regex(html, /<td>hsm \| forged cell<\/td>\s*<td><code>pkcs11:token=a\|b`c``d<\/code><\/td>\s*<td>1<\/td>/, 'three cells, as the header says');
  for (const name of [
    `Alice\\n\\n- ${forgedStep}`,
    'Eve\\u001b[2K\\u001b[1A\\u009b2J\\u007f',
    '# Mallory',
    '1. Trent',
    '    indented',
    '- Peggy *bold* ~~struck~~ _em_ &amp;amp; [a](x) ![i](y) \\',
  ])
    t.true(html.includes(`<p>${name}</p>`), `${name}: a paragraph of its own, as written`);
  t.true(html.includes('<li>&gt; quoted: yes\\u2028no\\u202e</li>'), html);
});

test('a forged transcript without what the report needs, or with it of the wrong kind, gets a clean error naming its line and field', async (t) => {
  const dir = tempDir(t, 'keyward-report-malformed-');
  const cases: Array<[entries: Array<[string, Record<string, unknown>]>, where: RegExp]> = [
    [[forgedStart({ title: undefined })], /line 1 \(ceremony\.start\): data\.title is missing/],
    [[forgedStart({ witnesses: 'Alice' })], /line 1 \(ceremony\.start\): data\.witnesses is text, not a list/],
    [[forgedStart({ witnesses: ['Alice', 7, { name: 'Eve' }] })], /line 1 \(ceremony\.start\): data\.witnesses\[1\] is a number, not text/],
    [[forgedStart({ script: 'root.yaml' })], /line 1 \(ceremony\.start\): data\.script\.file is missing/],
    [[forgedStart({ caDirectory: undefined })], /line 1 \(ceremony\.start\): data\.caDirectory is missing/],
    [[forgedStart(), ['step.done', { keys: [], certificates: null, crls: [], files: [] }]], /line 2 \(step\.done\): data\.certificates is null, not a list/],
    [
      [forgedStart(), ['step.done', { keys: [{ role: 'root' }], certificates: [], crls: [], files: [] }]],
      /line 2 \(step\.done\): data\.keys\[0\]\.device is missing/,
    ],
    [[forgedStart(), ['key-copy.proof', { verified: true }]], /line 2 \(key-copy\.proof\): data\.verifiedWith\.certificate is missing/],
    [[forgedStart(), ['certificate.draft', { profile: 'root', lint: 'all fine' }]], /line 2 \(certificate\.draft\): data\.lint is text, not a list/],
    [[forgedStart(), ['prompt', { question: 'Present?', answer: true }]], /line 2 \(prompt\): data\.answer is true, not text/],
  ];
  for (const [entries, where] of cases) {
    const transcript = forged(dir, entries);
    const error = t.throws(() => reportOf(transcript, 'markdown'), undefined, String(where)) as KeywardError;
    t.is(error.code, 'TRANSCRIPT_MALFORMED', `${String(where)}: ${error.stack}`);
    t.regex(error.message, where);
    t.true(error.message.startsWith(`${transcript}: `), error.message);
  }
  // And on the command line: the exit code of a transcript that does not hold, the error as JSON, no report.
  const transcript = forged(dir, [forgedStart({ witnesses: { first: 'Alice' } })]);
  const refused = await keyward(['ceremony', 'report', transcript, '--format', 'html', '--out', join(dir, 'report.html'), '--json']);
  t.is(refused.code, 6, refused.stderr);
  t.like(JSON.parse(refused.stdout), { error: { code: 'TRANSCRIPT_MALFORMED' } });
  t.regex(JSON.parse(refused.stdout).error.message as string, /line 1 \(ceremony\.start\): data\.witnesses is an object, not a list/);
  t.false(existsSync(join(dir, 'report.html')));
});

test('what a forged transcript says reaches the terminal from keyward ceremony verify, and from the error that refuses it, as printable text', async (t) => {
  const dir = tempDir(t, 'keyward-report-verify-');
  // An output whose name would move the cursor up and print a final hash of its own over the real one.
  const output = forged(dir, [
    forgedStart(),
    ['output.written', { name: `root\u001b[1A\u001b[2Kfinal hash ${'0'.repeat(64)}`, path: 'x\u009b2J.pem', sha256: 'ab' }],
  ]);
  const verified = await keyward(['ceremony', 'verify', output]);
  t.is(verified.code, 0, verified.stderr);
  t.false(/(?!\n)[\p{Cc}\p{Cf}]/u.test(verified.stdout), 'no control character reaches the terminal');
  t.regex(verified.stdout, /output root\\u001b\[1A\\u001b\[2Kfinal hash 0{64}: \S*x\\u009b2J\.pem not beside the transcript/);

  const file = join(dir, 'signed.jsonl');
  const writer = TranscriptWriter.create(file);
  const start = writer.append(...forgedStart());
  writer.append('transcript.signature', { signer: 'ceremony\u001b[2J\u001b[H', algorithm: 'p256', publicKey: 'none', signed: start.hash, signature: '00' });
  writer.close();
  for (const command of [
    ['ceremony', 'verify', file],
    ['ceremony', 'report', file],
  ]) {
    const refused = await keyward(command);
    t.is(refused.code, 6, refused.stderr);
    t.true(refused.stderr.includes('holds a signature by ceremony\\u001b[2J\\u001b[H that does not verify'), refused.stderr);
    t.false(/(?!\n)\p{Cc}/u.test(refused.stderr), 'no control character reaches the terminal');
  }
});

/** Whether a process is gone (or dead and waiting to be reaped). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

test("a browser that fails leaves nothing running and nothing behind, and its error is the one reported, with a hint for Ubuntu's snap chromium", async (t) => {
  const dir = tempDir(t, 'keyward-report-browser-');
  // A "chromium" that makes no PDF and leaves a child behind that keeps writing into its temporary directory.
  const bin = join(dir, 'bin');
  const pidFile = join(dir, 'child.pid');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'chromium'),
    `#!/bin/sh\n( while :; do mkdir -p "$TMPDIR/left"; : > "$TMPDIR/left/file"; sleep 0.01; done ) </dev/null >/dev/null 2>&1 &\necho $! > ${pidFile}\necho "cannot write to the temporary directory" >&2\nexit 1\n`,
  );
  chmodSync(join(bin, 'chromium'), 0o755);
  const transcript = forged(dir, [forgedStart()]);
  const scratch = tempDir(t, 'keyward-report-tmp-');
  const made = await keyward(['ceremony', 'report', transcript, '--format', 'pdf', '--out', join(dir, 'report.pdf'), '--json'], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TMPDIR: scratch },
  });
  const child = Number(readFileSync(pidFile, 'utf8'));
  t.teardown(() => {
    if (!gone(child)) process.kill(child, 'SIGKILL');
  });
  t.true(gone(child), "the browser's child was killed with it");
  t.deepEqual(readdirSync(scratch), [], "the browser's scratch directory is gone");
  t.is(made.code, 1, made.stderr);
  const { error } = JSON.parse(made.stdout) as { error: { code: string; hint: string; details: { stderr: string } } };
  t.is(error.code, 'PDF_RENDER_FAILED');
  t.regex(error.details.stderr, /cannot write to the temporary directory/);
  t.regex(error.hint, /snap/);
  t.regex(error.hint, /--format html/);
  t.false(existsSync(join(dir, 'report.pdf')));
});
