/**
 * What a ceremony stopped by a dead machine had done, read back from its transcript so that
 * `--resume` continues it: the chain is verified first; a transcript of another script, or of a
 * ceremony that ended (done or stopped), is refused. Keys made before the stop are opened again,
 * never made twice (the runner checks each against the public key recorded here); a step recorded
 * as done is not run again, and its outputs are reused where their SHA-256 matches.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keywardError } from '../errors.js';
import type { StepRecord } from '../ca/steps/record.js';
import type { CeremonyScript } from './script.js';
import { verifyTranscript, type TranscriptEntry } from './transcript.js';

export interface PriorRun {
  path: string;
  entries: TranscriptEntry[];
  /** Key role → public key (PEM) of each key made before the stop. */
  made: Map<string, string>;
  /** The step's records, where the step finished before the stop. */
  done?: StepRecord[];
  /** Each output the step produced (name → file, SHA-256, content), where recorded. */
  outputs?: Record<string, { file: string; sha256: string; content: string }>;
  /** The complete lines' length in bytes, and a last line the stop left unfinished (never part of the chain). */
  length: number;
  torn?: string;
  /** Outputs recorded as written: name → SHA-256. */
  written: Map<string, string>;
}

/** Reads and checks `<out>/transcript.jsonl` for a resumed run of `script`. */
export function readPriorRun(script: CeremonyScript, out: string): PriorRun {
  const path = join(out, 'transcript.jsonl');
  const refused = (why: string, hint: string) => keywardError('CEREMONY_RESUME_REFUSED', `${path}: ${why}`, { hint, details: { transcript: path } });
  if (!existsSync(path)) throw refused('there is no transcript to resume', 'run the ceremony without --resume, or give the --out of the stopped ceremony');
  // A machine that died while writing a line leaves it unfinished: the chain is the complete lines.
  const text = readFileSync(path, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const torn = text.slice(complete.length);
  const { entries } = verifyTranscript(path, complete);
  const start = entries[0]!;
  const recorded = (start.data.script as { sha256?: string } | undefined)?.sha256;
  if (recorded !== script.sha256) {
    throw refused(
      `is the transcript of another script (sha256 ${String(recorded)}, not ${script.sha256})`,
      'resume with the very script the ceremony began with; a changed script is a new ceremony',
    );
  }
  const end = entries.find((e) => e.type === 'ceremony.end');
  if (end) {
    throw refused(
      `the ceremony ended (${String(end.data.outcome)}) at line ${end.seq + 1}: only a ceremony stopped by a dead machine is resumed`,
      'a ceremony that ended stays as it is; run the script again with a new --out',
    );
  }
  const of = (type: string) => entries.filter((e) => e.type === type);
  const made = new Map<string, string>();
  for (const e of of('key.ready')) if (e.data.generated === true) made.set(String(e.data.role), String(e.data.publicKey));
  const done = of('step.done').map((e) => e.data as unknown as StepRecord);
  const outputs = of('step.outputs').at(-1)?.data.outputs as PriorRun['outputs'];
  const written = new Map(of('output.written').map((e) => [String(e.data.name), String(e.data.sha256)]));
  return { path, entries, made, ...(outputs ? { done, outputs } : {}), written, length: Buffer.byteLength(complete), ...(torn ? { torn } : {}) };
}
