/**
 * The scripts in docs/ceremonies are valid, the root and cluster intermediate ones rehearse end to
 * end on stand-ins (as `--dry-run` does on a machine with no hardware), and the sample transcripts
 * and reports beside them (Markdown, and the printable HTML page) come from the scripts as they are
 * now and verify with this code.
 *
 * Regenerate the samples after changing a script or the transcript format:
 *   KEYWARD_WRITE_SAMPLES=1 npx ava test/ceremony/docs.test.ts
 */
import test from 'ava';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareRehearsal } from '../../src/ceremony/rehearsal.js';
import { reportOf } from '../../src/ceremony/report.js';
import { runCeremony } from '../../src/ceremony/runner.js';
import { readScript } from '../../src/ceremony/script.js';
import { verifyTranscript } from '../../src/ceremony/transcript.js';
import { quiet, room } from '../harness/ceremony.js';
import { PROJECT_ROOT } from '../harness/run.js';

const DOCS = join(PROJECT_ROOT, 'docs', 'ceremonies');
const SAMPLES = join(DOCS, 'samples');
const REHEARSED = ['root', 'cluster-intermediate', 'tuf-root-sign', 'backup', 'restore'];

test('every script in docs/ceremonies is valid', (t) => {
  const scripts = readdirSync(DOCS).filter((f) => f.endsWith('.yaml'));
  t.true(scripts.length >= 6);
  for (const file of scripts) t.notThrows(() => readScript(join(DOCS, file)), file);
});

for (const name of REHEARSED) {
  test.serial(`docs/ceremonies/${name}.yaml rehearses end to end on stand-ins; its sample transcript is of this script and verifies`, async (t) => {
    const script = readScript(join(DOCS, `${name}.yaml`));
    const rehearsal = await prepareRehearsal(script);
    try {
      const result = await runCeremony(rehearsal.script, {
        out: rehearsal.out,
        keystore: rehearsal.keystore,
        interaction: quiet,
        witnessing: room(),
        rehearsal: { standIns: rehearsal.standIns },
      });
      t.is(result.outcome, 'done');
      if (process.env.KEYWARD_WRITE_SAMPLES) {
        copyFileSync(result.transcript, join(SAMPLES, `${name}.transcript.jsonl`));
        writeFileSync(join(SAMPLES, `${name}.report.md`), reportOf(result.transcript, 'markdown'));
        writeFileSync(join(SAMPLES, `${name}.report.html`), reportOf(result.transcript, 'html'));
      }
    } finally {
      await rehearsal.close();
    }
    const sample = join(SAMPLES, `${name}.transcript.jsonl`);
    t.true(existsSync(sample), `${sample}: regenerate with KEYWARD_WRITE_SAMPLES=1`);
    const { entries } = verifyTranscript(sample);
    t.is((entries[0]!.data.script as { sha256: string }).sha256, script.sha256, 'the sample is of the script as it is now');
    t.is(readFileSync(join(SAMPLES, `${name}.report.md`), 'utf8'), reportOf(sample, 'markdown'), 'the sample report is what this code renders');
    t.is(readFileSync(join(SAMPLES, `${name}.report.html`), 'utf8'), reportOf(sample, 'html'), 'and so is the printable HTML one');
  });
}
