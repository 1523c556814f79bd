/**
 * PEM armour (RFC 7468) for the DER blobs Keyward prints and reads: one reader, for the first block
 * of a label or all of them. Not x509's PemConverter: the CLI imports this before any command runs
 * and PemConverter would load all of @peculiar/x509 with it, and its reader silently skips a block
 * it cannot match (no END line, a stray space) where this one says what is wrong with it.
 */
import { keywardError } from '../errors.js';

export function toPem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const text = (input: Uint8Array | string) => (typeof input === 'string' ? input : Buffer.from(input).toString('latin1'));

/** The label's blocks as DER, in order; each is checked only when reached, so a reader may stop at the first. */
function* blocks(armoured: string, label: string): Generator<Buffer> {
  const begin = `-----BEGIN ${label}-----`;
  const endLine = `-----END ${label}-----`;
  for (let start = armoured.indexOf(begin); start !== -1;) {
    const end = armoured.indexOf(endLine, start);
    if (end === -1) throw keywardError('PEM_TRUNCATED', `the PEM "${label}" block has no END line`);
    const body = armoured.slice(start + begin.length, end).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw keywardError('PEM_MALFORMED', `the PEM "${label}" block is not valid base64`);
    yield Buffer.from(body, 'base64');
    start = armoured.indexOf(begin, end + endLine.length);
  }
}

/** DER from PEM (the first block with the label) or the input itself when it is already DER. */
export function fromPemOrDer(input: Uint8Array | string, label: string): Buffer {
  const armoured = text(input);
  const first = blocks(armoured, label).next();
  if (!first.done) return first.value;
  if (armoured.includes('-----BEGIN ')) {
    throw keywardError('PEM_LABEL', `expected a PEM "${label}" block, found "${/-----BEGIN ([^-]+)-----/.exec(armoured)?.[1]}"`);
  }
  return Buffer.from(input);
}

/** Every PEM block with the label in a text (a bundle of certificates, say), as DER, in order. */
export function pemBlocks(input: Uint8Array | string, label: string): Buffer[] {
  return [...blocks(text(input), label)];
}
