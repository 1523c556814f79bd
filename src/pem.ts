/** PEM armour (RFC 7468) for the DER blobs Keyward prints and reads. */
import { UsageError } from './errors.js';

export function toPem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** DER from PEM (the first block with the label) or the input itself when it is already DER. */
export function fromPemOrDer(input: Uint8Array, label: string): Buffer {
  const text = Buffer.from(input).toString('latin1');
  const begin = `-----BEGIN ${label}-----`;
  const start = text.indexOf(begin);
  if (start === -1) {
    if (text.includes('-----BEGIN ')) {
      throw new UsageError('PEM_LABEL', `expected a PEM "${label}" block, found "${/-----BEGIN ([^-]+)-----/.exec(text)?.[1]}"`);
    }
    return Buffer.from(input);
  }
  const end = text.indexOf(`-----END ${label}-----`, start);
  if (end === -1) throw new UsageError('PEM_TRUNCATED', `the PEM "${label}" block has no END line`);
  return decodeBody(text.slice(start + begin.length, end), label);
}

/** Every PEM block with the label in a text (a bundle of certificates, say), as DER, in order. */
export function pemBlocks(input: Uint8Array | string, label: string): Buffer[] {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const blocks = [...text.matchAll(new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g'))];
  return blocks.map((block) => decodeBody(block[1]!, label));
}

function decodeBody(armoured: string, label: string): Buffer {
  const body = armoured.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new UsageError('PEM_MALFORMED', `the PEM "${label}" block is not valid base64`);
  return Buffer.from(body, 'base64');
}
