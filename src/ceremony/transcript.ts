/**
 * A ceremony's transcript: JSON lines, append-only and hash-chained. Each entry names the hash of
 * the one before (`prev`) and carries its own (`hash`, SHA-256 of the entry without it), so changing,
 * removing or reordering a line breaks the chain at that line. Each line is flushed to disk
 * (fsync) before the ceremony goes on: a machine that dies mid-ceremony leaves every step it
 * finished on record. At the end the chain's last hash is signed: by a ceremony key (made for this
 * ceremony, its public key in the first entry) and by the new root where one was made.
 *
 * No secret is ever an entry: prompts for PINs are recorded as asked, never with what was typed.
 */
import { closeSync, constants, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openNewFile } from '../atomic-file.js';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { ALGORITHMS, nodeHashName, type KeyAlgorithm } from '../crypto/algorithms.js';
import { keywardError } from '../errors.js';
import { printable } from '../quoted.js';
import type { KeyHandle } from '../keystore/backend.js';
import { fromPemOrDer, toPem } from '../x509/pem.js';

/** The `prev` of the first entry. */
export const GENESIS = '0'.repeat(64);

export interface TranscriptEntry {
  seq: number;
  prev: string;
  at: string;
  type: string;
  data: Record<string, unknown>;
  hash: string;
}

/** The hash of an entry: SHA-256 over its fields but `hash`, in this order, as JSON. */
export function entryHash(entry: Omit<TranscriptEntry, 'hash'>): string {
  const { seq, prev, at, type, data } = entry;
  return createHash('sha256').update(JSON.stringify({ seq, prev, at, type, data })).digest('hex');
}

/** What a signature entry (`transcript.signature`) holds. */
export interface TranscriptSignature {
  /** Who signed: the ceremony key, or a key of the ceremony (the new root). */
  signer: string;
  algorithm: KeyAlgorithm;
  publicKey: string;
  /** The hash of the entry before this one: the chain up to it is what was signed. */
  signed: string;
  signature: string;
}

/** Appends entries to a new transcript file (refusing one that exists), or, resumed, to a verified one: never continued by accident. */
export class TranscriptWriter {
  readonly path: string;
  readonly #fd: number;
  #last = GENESIS;
  #seq = 0;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  static create(path: string): TranscriptWriter {
    return new TranscriptWriter(path, openNewFile(path));
  }

  /**
   * Continues a verified transcript (`--resume`) after its last entry, its first `length` bytes (a
   * line torn by the stop is cut off; the runner records it); a link in its place is not followed.
   */
  static resume(path: string, entries: TranscriptEntry[], length: number): TranscriptWriter {
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
    ftruncateSync(fd, length);
    fsyncSync(fd);
    const writer = new TranscriptWriter(path, fd);
    const last = entries.at(-1);
    if (last) {
      writer.#last = last.hash;
      writer.#seq = last.seq + 1;
    }
    return writer;
  }

  /** The hash of the last entry written: what witnesses copy at the end. */
  get lastHash(): string {
    return this.#last;
  }

  /** Appends one entry and flushes it to disk before returning. */
  append(type: string, data: Record<string, unknown>, at: Date = new Date()): TranscriptEntry {
    const body = { seq: this.#seq, prev: this.#last, at: at.toISOString(), type, data };
    const entry: TranscriptEntry = { ...body, hash: entryHash(body) };
    writeSync(this.#fd, `${JSON.stringify(entry)}\n`);
    fsyncSync(this.#fd);
    this.#last = entry.hash;
    this.#seq += 1;
    return entry;
  }

  /** Signs the chain so far with `key` and appends the signature. */
  async sign(signer: string, key: KeyHandle): Promise<TranscriptEntry> {
    const algorithm = key.info.algorithm;
    if (!algorithm) throw keywardError('KEY_TYPE_UNSUPPORTED', `key ${key.info.uri} cannot sign the transcript`);
    const signed = this.#last;
    const signature = await key.sign(Buffer.from(signed, 'hex'));
    const data: TranscriptSignature = {
      signer,
      algorithm,
      publicKey: toPem('PUBLIC KEY', await key.publicKey()),
      signed,
      signature: Buffer.from(signature).toString('hex'),
    };
    return this.append('transcript.signature', { ...data });
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export interface TranscriptVerification {
  entries: TranscriptEntry[];
  finalHash: string;
  signatures: Array<{ signer: string; publicKeySha256: string }>;
}

/** Whether `signature` is `publicKey`'s over `data`, for the transcript's key types. */
function signatureValid(algorithm: KeyAlgorithm, publicKeyPem: string, data: Uint8Array, signature: Uint8Array): boolean {
  const info = ALGORITHMS[algorithm];
  const key = createPublicKey({ key: Buffer.from(fromPemOrDer(publicKeyPem, 'PUBLIC KEY')), format: 'der', type: 'spki' });
  return verify(info.family === 'ed25519' ? null : nodeHashName(info.defaultHash), data, key, signature);
}

/**
 * Checks a transcript: every line parses, is the next in sequence, names the hash of the line
 * before and has its own hash; every signature verifies over the chain before it; the ceremony
 * key (named in the first entry) and every key the ceremony made to sign it (`signer.added`) signed
 * after its end, and nothing but signatures follows the end.
 * Throws TRANSCRIPT_TAMPERED naming the first entry that does not hold.
 */
export function verifyTranscript(path: string, text = readFileSync(path, 'utf8')): TranscriptVerification {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const entries: TranscriptEntry[] = [];
  const signatures: TranscriptVerification['signatures'] = [];
  const tampered = (line: number, why: string) =>
    keywardError('TRANSCRIPT_TAMPERED', `${path}: line ${line} (entry ${line - 1}) ${why}`, {
      hint: 'the transcript was changed after it was written, or cut short; compare it with the copies the witnesses keep and the final hash they wrote down',
      details: { line, entry: line - 1 },
    });
  let prev = GENESIS;
  for (const [index, text] of lines.entries()) {
    const line = index + 1;
    let entry: TranscriptEntry;
    try {
      entry = JSON.parse(text) as TranscriptEntry;
    } catch {
      throw tampered(line, 'is not a JSON entry');
    }
    if (typeof entry !== 'object' || entry === null || typeof entry.data !== 'object') throw tampered(line, 'is not a transcript entry');
    if (entry.seq !== index) throw tampered(line, `has sequence number ${String(entry.seq)}, not ${index}: a line was removed, added or moved`);
    if (entry.prev !== prev) throw tampered(line, 'does not follow the line before it (its "prev" is not that line\'s hash)');
    if (entryHash(entry) !== entry.hash) throw tampered(line, 'was changed: its content does not match its hash');
    if (entry.type === 'transcript.signature') {
      const signature = entry.data as unknown as TranscriptSignature;
      if (signature.signed !== entry.prev) throw tampered(line, 'is a signature over another point of the chain');
      let valid: boolean;
      try {
        valid = signatureValid(signature.algorithm, signature.publicKey, Buffer.from(signature.signed, 'hex'), Buffer.from(signature.signature, 'hex'));
      } catch {
        valid = false;
      }
      if (!valid) throw tampered(line, `holds a signature by ${printable(String(signature.signer))} that does not verify`);
      signatures.push({
        signer: signature.signer,
        publicKeySha256: createHash('sha256').update(fromPemOrDer(signature.publicKey, 'PUBLIC KEY')).digest('hex'),
      });
    }
    entries.push(entry);
    prev = entry.hash;
  }
  const start = entries[0];
  if (!start || start.type !== 'ceremony.start') throw tampered(1, 'is not the start of a ceremony');
  // A ceremony that ended (done or stopped) is signed after its last entry by the ceremony key and every key it made to sign.
  // A resumed ceremony made a new ceremony key (the first died with the machine): the last one named signs.
  const end = entries.find((e) => e.type === 'ceremony.end');
  if (end) {
    const ceremonyKey = entries.filter((e) => e.type === 'ceremony.resumed').at(-1)?.data.ceremonyKey ?? start.data.ceremonyKey;
    const signers = [
      { signer: 'ceremony', publicKey: ceremonyKey },
      ...entries.filter((e) => e.type === 'signer.added').map((e) => ({ signer: e.data.signer, publicKey: e.data.publicKey })),
    ];
    for (const { signer, publicKey } of signers) {
      const signed = entries.some((e) => e.seq > end.seq && e.type === 'transcript.signature' && e.data.signer === signer && e.data.publicKey === publicKey);
      if (!signed)
        throw tampered(entries.length, `is the last line, and the ${printable(String(signer))} key's signature after the end of the ceremony is missing`);
    }
    const after = entries.find((e) => e.seq > end.seq && e.type !== 'transcript.signature');
    if (after) throw tampered(after.seq + 1, 'follows the end of the ceremony');
  }
  return { entries, finalHash: prev, signatures };
}

export interface OutputCheck {
  name: string;
  /** Where the transcript says it was written, and where it was looked for: beside the transcript. */
  path: string;
  status: 'unchanged' | 'changed' | 'absent';
  /** The transcript line that records it. */
  line: number;
}

/**
 * The ceremony's outputs as they are now, beside the transcript (where `--out` put them), against
 * the SHA-256 the transcript recorded for each. An output moved elsewhere is absent, not an error.
 */
export function checkOutputFiles(transcriptPath: string, entries: TranscriptEntry[]): OutputCheck[] {
  return entries
    .filter((e) => e.type === 'output.written')
    .map((e) => {
      // As text whatever they are: a transcript that verifies may still be anyone's.
      const [name, path, sha256] = [String(e.data.name), String(e.data.path), String(e.data.sha256)];
      const here = join(dirname(transcriptPath), basename(path));
      const status = !existsSync(here) ? 'absent' : createHash('sha256').update(readFileSync(here)).digest('hex') === sha256 ? 'unchanged' : 'changed';
      return { name, path: here, status, line: e.seq + 1 };
    });
}
