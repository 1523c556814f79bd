/**
 * Ceremony scripts: one YAML document that says everything a ceremony will do, reviewed before
 * the day and checked against this schema before any device is opened. Every error names the
 * line and column it is about; all of them are reported at once, so a script is fixed in one go.
 *
 *   keyward-ceremony: 1
 *   kind: root                       # see CEREMONY_KINDS
 *   title: Example offline root, 2026
 *   ca-directory: offline-ca         # relative to the script
 *   devices:                         # each device by URI, and bound by serial
 *     root-hsm: { uri: "pkcs11:token=offline-root", serial: "1a2b3c4d5e6f7a8b" }
 *   keys:                            # the roles the kind needs, each on a device
 *     root: { device: root-hsm, label: root-2026, algorithm: p384 }   # backup: wrap → copyable (backup.yaml)
 *   certificate: { subject: "CN=Example Root CA, O=Example", years: 20 }
 *   outputs: { certificate: root.pem }   # written to --out, never over a file
 *   witnesses: [Alice Example, Bob Example]
 *
 * Key URIs made from a script are `KeyUri.fromFile`: a script cannot choose a PKCS#11 module the
 * operator has not allowed, nor say where a PIN comes from.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../crypto/algorithms.js';
import { fileProblem, keywardError, KeywardError } from '../errors.js';
import { KeyUri } from '../keystore/uri/origin.js';
import { printable, unprintable } from '../quoted.js';
import { formatPkcs11Uri, formatYubiKeyUri, keyUriScheme, parsePkcs11Uri, parseYubiKeyUri, YUBIKEY_SLOT_NAMES } from '../keystore/uri/index.js';

/**
 * The ceremonies a script can be, and the key roles each needs: made in it (`generate`), already
 * there (`existing`), or copied in it from another role under wrap (`copy`, KEY_COPIES).
 */
export const CEREMONY_KINDS = {
  root: { keys: { root: 'generate' }, outputs: ['certificate'], required: [] },
  intermediate: { keys: { root: 'existing', intermediate: 'generate' }, outputs: ['certificate'], required: ['cluster'] },
  'intermediate-request': { keys: { intermediate: 'generate' }, outputs: ['csr'], required: ['cluster', 'outputs.csr'] },
  'intermediate-sign': { keys: { root: 'existing' }, outputs: ['certificate'], required: ['cluster', 'inputs.csr', 'outputs.certificate'] },
  'intermediate-install': { keys: { intermediate: 'existing' }, outputs: [], required: ['inputs.certificate', 'inputs.root-directory'] },
  'root-rotation': { keys: { root: 'existing', 'new-root': 'generate' }, outputs: ['root', 'cross-signed'], required: [] },
  crl: { keys: { root: 'existing' }, outputs: ['crl'], required: [] },
  'tuf-root-sign': { keys: { root: 'existing' }, outputs: ['root'], required: ['repository'] },
  backup: { keys: { source: 'existing', backup: 'copy' }, outputs: [], required: [] },
  restore: { keys: { backup: 'existing', restored: 'copy' }, outputs: [], required: [] },
} as const satisfies Record<string, { keys: Record<string, 'generate' | 'existing' | 'copy'>; outputs: readonly string[]; required: readonly string[] }>;

export type CeremonyKind = keyof typeof CEREMONY_KINDS;

/** The kinds that copy a key from one token to another under wrap: which role is copied to which. */
export const KEY_COPIES: Partial<Record<CeremonyKind, { from: string; to: string }>> = {
  backup: { from: 'source', to: 'backup' },
  restore: { from: 'backup', to: 'restored' },
};

export interface Position {
  line: number;
  col: number;
}

export interface DeviceSpec {
  name: string;
  uri: string;
  scheme: 'pkcs11' | 'yubikey';
  serial?: string;
}

export interface KeySpec {
  role: string;
  device: string;
  /** PKCS#11: the key's label (object=); YubiKey: its PIV slot. */
  label?: string;
  slot?: string;
  algorithm?: KeyAlgorithm;
  generate: boolean;
  /** `wrap`: the key made may leave its token only wrapped by a key its SO trusts, so a backup ceremony can copy it. */
  backup?: 'wrap';
}

export interface CeremonyScript {
  file: string;
  /** The script's text and its SHA-256: what the witnesses reviewed. */
  text: string;
  sha256: string;
  kind: CeremonyKind;
  title: string;
  /** The CA directory (CA ceremonies) or TUF repository (tuf- ceremonies), absolute. */
  caDirectory: string;
  repository?: string;
  devices: Record<string, DeviceSpec>;
  keys: Record<string, KeySpec>;
  certificate: { subject?: string; years?: number; days?: number };
  cluster?: { id: string; nodeDays?: number; crlUrl?: string; caIssuersUrl?: string };
  crl: { days?: number };
  inputs: { csr?: string; certificate?: string; rootDirectory?: string };
  /** Output name → file name inside --out. */
  outputs: Record<string, string>;
  witnesses: string[];
  /** Where each field is in the file ("keys.root.label"), for errors found after parsing. */
  positions: Record<string, Position>;
}

export interface ScriptProblem {
  path: string;
  line: number;
  col: number;
  message: string;
}

/** The error for problems of a script: every problem with its place, the first in the message. */
export function scriptInvalid(file: string, problems: ScriptProblem[]): KeywardError {
  const lines = problems.map((p) => `${file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  return keywardError('CEREMONY_SCRIPT_INVALID', lines.length === 1 ? lines[0]! : `${lines.length} problems:\n  ${lines.join('\n  ')}`, {
    hint: 'fix the script and check it again (keyward ceremony check SCRIPT); nothing was opened or written',
    details: { file, problems },
  });
}

const TOP_FIELDS = [
  'keyward-ceremony',
  'kind',
  'title',
  'ca-directory',
  'repository',
  'devices',
  'keys',
  'certificate',
  'cluster',
  'crl',
  'inputs',
  'outputs',
  'witnesses',
];
const OUTPUT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Reads and checks a script; throws CEREMONY_SCRIPT_INVALID with every problem, placed. */
export function readScript(path: string): CeremonyScript {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw keywardError('CEREMONY_SCRIPT_UNREADABLE', `cannot read the ceremony script ${file}: ${fileProblem(error)}`);
  }
  return parseScript(text, file);
}

/** Checks a script's text (`file` names it in errors and places relative paths). */
export function parseScript(text: string, file: string): CeremonyScript {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, merge: false, prettyErrors: false });
  const problems: ScriptProblem[] = [];
  const positions: Record<string, Position> = {};
  const at = (node: Node | null | undefined): Position => lineCounter.linePos(node?.range?.[0] ?? 0);
  const problem = (path: string, node: Node | null | undefined, message: string) => problems.push({ path, ...at(node), message });

  for (const error of [...doc.errors, ...doc.warnings]) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    problems.push({ path: '', line, col, message: error.message.split('\n')[0]! });
  }
  if (problems.length) throw scriptInvalid(file, problems);
  const root = doc.contents;
  if (!isMap(root)) throw scriptInvalid(file, [{ path: '', ...at(root), message: 'a ceremony script is a mapping (keyward-ceremony: 1, kind: …, …)' }]);

  /** The fields of a mapping node, each placed; unknown fields are problems. */
  const fields = (node: Node | null | undefined, path: string, known: readonly string[]): Map<string, Node | null> => {
    const result = new Map<string, Node | null>();
    if (!isMap(node)) {
      problem(path, node, 'must be a mapping (field: value)');
      return result;
    }
    for (const pair of node.items as Pair<Node, Node | null>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const full = path ? `${path}.${key}` : key;
      if (unprintable(key) !== undefined) {
        problem(printable(full), pair.key, controlCharacter(key));
        continue;
      }
      if (!known.includes(key)) {
        problem(full, pair.key, `is not a field here (fields: ${known.join(', ')})`);
        continue;
      }
      positions[full] = at(pair.key);
      result.set(key, pair.value);
    }
    return result;
  };
  const string = (node: Node | null | undefined, path: string, pattern?: RegExp, what?: string): string | undefined => {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
      problem(path, node, `must be a non-empty string${what ? ` (${what})` : ''}`);
      return undefined;
    }
    if (unprintable(node.value) !== undefined) {
      problem(path, node, controlCharacter(node.value));
      return undefined;
    }
    if (pattern && !pattern.test(node.value)) {
      problem(path, node, `"${node.value}" is not ${what}`);
      return undefined;
    }
    return node.value;
  };
  const whole = (node: Node | null | undefined, path: string, min: number, max: number): number | undefined => {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problem(path, node, `must be a whole number from ${min} to ${max}`);
      return undefined;
    }
    return value;
  };
  const optional = <T>(map: Map<string, Node | null>, key: string, read: (node: Node | null) => T | undefined): T | undefined =>
    map.has(key) ? read(map.get(key)!) : undefined;

  const top = fields(root, '', TOP_FIELDS);
  const version = top.get('keyward-ceremony');
  if (!top.has('keyward-ceremony') || !isScalar(version) || version.value !== 1) {
    problem('keyward-ceremony', version ?? root, 'must be 1: the version of the script format this Keyward reads');
  }
  const kindNode = top.get('kind');
  const kindText = string(kindNode, 'kind');
  const kind = kindText !== undefined && kindText in CEREMONY_KINDS ? (kindText as CeremonyKind) : undefined;
  if (kindText !== undefined && !kind) problem('kind', kindNode, `"${kindText}" is not a ceremony (kinds: ${Object.keys(CEREMONY_KINDS).join(', ')})`);
  const title = optional(top, 'title', (n) => string(n, 'title')) ?? kindText ?? 'ceremony';
  const tuf = kind?.startsWith('tuf-') === true;
  const caDirectory = top.has('ca-directory') ? string(top.get('ca-directory'), 'ca-directory') : undefined;
  const repository = top.has('repository') ? string(top.get('repository'), 'repository') : undefined;
  if (!tuf && !top.has('ca-directory')) problem('ca-directory', root, 'is missing: the CA directory this ceremony works on, relative to the script');
  if (tuf && top.has('ca-directory')) problem('ca-directory', top.get('ca-directory'), `is for CA ceremonies; a ${kind} ceremony names its repository`);
  if (!tuf && kind && top.has('repository')) problem('repository', top.get('repository'), `is for TUF ceremonies; a ${kind} ceremony names its ca-directory`);

  const devices: Record<string, DeviceSpec> = {};
  const deviceMap = top.has('devices') ? fields(top.get('devices'), 'devices', anyField(top.get('devices'))) : new Map<string, Node | null>();
  if (!top.has('devices')) problem('devices', root, 'is missing: the devices the ceremony uses, by URI and serial');
  for (const [name, node] of deviceMap) {
    const path = `devices.${name}`;
    const device = fields(node, path, ['uri', 'serial']);
    const uri = string(device.get('uri'), `${path}.uri`);
    const serialNode = device.get('serial');
    const serial = device.has('serial')
      ? isScalar(serialNode) && ['string', 'number'].includes(typeof serialNode.value)
        ? // As written: an unquoted serial of digits is a YAML number, and a long one would lose digits as such.
          typeof serialNode.value === 'number'
          ? (serialNode.source ?? String(serialNode.value))
          : String(serialNode.value)
        : undefined
      : undefined;
    if (device.has('serial') && serial === undefined) problem(`${path}.serial`, serialNode, "must be the device's serial number");
    if (serial !== undefined && unprintable(serial) !== undefined) problem(`${path}.serial`, serialNode, controlCharacter(serial));
    if (uri === undefined) continue;
    const scheme = keyUriScheme(uri);
    if (scheme !== 'pkcs11' && scheme !== 'yubikey') {
      problem(`${path}.uri`, device.get('uri'), `"${uri}" is not a pkcs11: or yubikey: URI`);
      continue;
    }
    try {
      const parsed = scheme === 'pkcs11' ? parsePkcs11Uri(uri) : parseYubiKeyUri(uri);
      if ('object' in parsed && (parsed.object !== undefined || parsed.id !== undefined))
        throw new Error('names a key: name only the device here, and the key under keys');
      if ('slot' in parsed && parsed.slot !== undefined) throw new Error('names a slot: name only the YubiKey here, and the slot under keys');
      const inUri = parsed.serial !== undefined ? String(parsed.serial) : undefined;
      if (inUri !== undefined && serial !== undefined && inUri !== serial) throw new Error(`says serial=${inUri}, and serial says ${serial}`);
      KeyUri.fromFile(uri, file, path);
      devices[name] = { name, uri, scheme, ...((serial ?? inUri) !== undefined ? { serial: serial ?? inUri } : {}) };
    } catch (error) {
      problem(`${path}.uri`, device.get('uri'), (error as Error).message);
    }
  }

  const keys: Record<string, KeySpec> = {};
  const roles: Record<string, 'generate' | 'existing' | 'copy'> = kind ? CEREMONY_KINDS[kind].keys : {};
  const keyMap = top.has('keys') ? fields(top.get('keys'), 'keys', kind ? Object.keys(roles) : anyField(top.get('keys'))) : new Map<string, Node | null>();
  for (const [role, node] of keyMap) {
    const path = `keys.${role}`;
    const key = fields(node, path, ['device', 'label', 'slot', 'algorithm', 'backup']);
    const deviceName = string(key.get('device'), `${path}.device`);
    const device = deviceName !== undefined ? devices[deviceName] : undefined;
    if (deviceName !== undefined && !device && deviceMap.has(deviceName) === false) {
      problem(`${path}.device`, key.get('device'), `"${deviceName}" is not one of the devices (${Object.keys(devices).join(', ') || 'none'})`);
    }
    const label = optional(key, 'label', (n) => string(n, `${path}.label`, /^[^;/?%]{1,64}$/, 'a key label (1–64 characters, no ; / ? %)'));
    const slot = optional(key, 'slot', (n) =>
      string(n, `${path}.slot`, new RegExp(`^(${YUBIKEY_SLOT_NAMES.join('|')})$`), 'a PIV slot (9a, 9c, 9d, 9e, 82–95)'),
    );
    const algorithm = optional(key, 'algorithm', (n) => {
      const value = string(n, `${path}.algorithm`);
      if (value !== undefined && !(KEY_ALGORITHMS as readonly string[]).includes(value)) {
        problem(`${path}.algorithm`, n, `"${value}" is not an algorithm (${KEY_ALGORITHMS.join(', ')})`);
        return undefined;
      }
      return value as KeyAlgorithm | undefined;
    });
    const backup = optional(key, 'backup', (n) => string(n, `${path}.backup`, /^wrap$/, '"wrap" (the only way a key is backed up)') as 'wrap' | undefined);
    const generate = roles[role] === 'generate';
    if (backup && !generate)
      problem(`${path}.backup`, key.get('backup'), `is for a key made in this ceremony; a ${kind} ceremony does not make the ${role} key`);
    if (backup && device?.scheme === 'yubikey') problem(`${path}.backup`, key.get('backup'), 'needs a PKCS#11 token: a YubiKey key never leaves the card');
    if (backup && algorithm === 'ed25519') {
      problem(`${path}.backup`, key.get('backup'), 'is for ECDSA and RSA keys: SoftHSM 2.6.1, for one, will not wrap an Ed25519 private key');
    }
    if (roles[role] === 'copy' && key.has('algorithm')) {
      problem(`${path}.algorithm`, key.get('algorithm'), `is the copied key's own: the ${role} key is a copy`);
    }
    if (roles[role] === 'copy' && device && device.scheme !== 'pkcs11')
      problem(`${path}.device`, key.get('device'), 'must be a PKCS#11 token: a copy goes to one');
    if (device?.scheme === 'pkcs11' && !key.has('label')) problem(`${path}.label`, node, "is missing: a PKCS#11 key's label");
    if (device?.scheme === 'pkcs11' && key.has('slot')) problem(`${path}.slot`, key.get('slot'), 'is for YubiKeys; a PKCS#11 key has a label');
    if (device?.scheme === 'yubikey' && !key.has('slot')) problem(`${path}.slot`, node, "is missing: the YubiKey's PIV slot (9a, 9c, 9d, 9e, 82–95)");
    if (device?.scheme === 'yubikey' && key.has('label')) problem(`${path}.label`, key.get('label'), 'is for PKCS#11 keys; a YubiKey key has a slot');
    if (generate && !key.has('algorithm')) problem(`${path}.algorithm`, node, `is missing: the ${role} key is made in this ceremony`);
    if (deviceName !== undefined) keys[role] = { role, device: deviceName, label, slot, algorithm, generate, ...(backup ? { backup } : {}) };
  }
  for (const role of Object.keys(roles)) {
    if (!keyMap.has(role))
      problem(
        `keys.${role}`,
        top.get('keys') ?? root,
        `is missing: a ${kind} ceremony ${roles[role] === 'existing' ? 'uses' : 'makes'} the ${role} key${roles[role] === 'copy' ? ' (a copy)' : ''}`,
      );
  }
  const copies = kind ? KEY_COPIES[kind] : undefined;
  const [from, to] = copies ? [keys[copies.from], keys[copies.to]] : [];
  if (from && to) {
    const [a, b] = [devices[from.device], devices[to.device]];
    const same =
      from.device === to.device
        ? `is device "${from.device}", where the ${from.role} key is`
        : a && b && a.serial !== undefined && a.serial === b.serial
          ? `is device "${from.device}" again (serial ${a.serial}), where the ${from.role} key is`
          : a && b && a.uri === b.uri && a.serial === undefined && b.serial === undefined
            ? `names the token of device "${from.device}" (${a.uri}), where the ${from.role} key is`
            : undefined;
    if (same) problem(`keys.${to.role}.device`, keyMap.get(to.role), `${same}: a copy goes to a second token`);
    if (a?.scheme === 'yubikey')
      problem(`keys.${from.role}.device`, keyMap.get(from.role), 'is a YubiKey: its keys never leave the card, so there is nothing to copy');
  }
  const usedDevices = new Set(Object.values(keys).map((k) => k.device));
  for (const name of Object.keys(devices)) if (!usedDevices.has(name)) problem(`devices.${name}`, deviceMap.get(name), 'is not used by any key');
  const seen = new Map<string, string>();
  for (const key of Object.values(keys)) {
    const where = `${key.device}/${key.label ?? key.slot}`;
    if (seen.has(where)) problem(`keys.${key.role}`, keyMap.get(key.role), `is the same key as keys.${seen.get(where)}`);
    seen.set(where, key.role);
  }

  const certificateFields = fields(top.get('certificate') ?? emptyMap(doc), 'certificate', ['subject', 'years', 'days']);
  const certificate = {
    subject: optional(certificateFields, 'subject', (n) => string(n, 'certificate.subject')),
    years: optional(certificateFields, 'years', (n) => whole(n, 'certificate.years', 1, 30)),
    days: optional(certificateFields, 'days', (n) => whole(n, 'certificate.days', 1, 3650)),
  };
  let cluster: CeremonyScript['cluster'];
  if (top.has('cluster')) {
    const c = fields(top.get('cluster'), 'cluster', ['id', 'node-days', 'crl-url', 'ca-issuers-url']);
    const id = string(c.get('id'), 'cluster.id');
    const urlOf = (key: string) => optional(c, key, (n) => string(n, `cluster.${key}`, /^https?:\/\/\S+$/, 'an http(s) URL'));
    if (id !== undefined)
      cluster = {
        id,
        nodeDays: optional(c, 'node-days', (n) => whole(n, 'cluster.node-days', 1, 3650)),
        crlUrl: urlOf('crl-url'),
        caIssuersUrl: urlOf('ca-issuers-url'),
      };
  }
  const crlFields = fields(top.get('crl') ?? emptyMap(doc), 'crl', ['days']);
  const crl = { days: optional(crlFields, 'days', (n) => whole(n, 'crl.days', 1, 366)) };
  const base = dirname(file);
  const inputFields = fields(top.get('inputs') ?? emptyMap(doc), 'inputs', ['csr', 'certificate', 'root-directory']);
  const inputPath = (key: string) => optional(inputFields, key, (n) => string(n, `inputs.${key}`));
  const inputs = {
    csr: inputPath('csr'),
    certificate: inputPath('certificate'),
    rootDirectory: inputPath('root-directory'),
  };
  const outputs: Record<string, string> = {};
  const outputFields = fields(top.get('outputs') ?? emptyMap(doc), 'outputs', kind ? CEREMONY_KINDS[kind].outputs : anyField(top.get('outputs')));
  const names = new Map<string, string>();
  for (const [name, node] of outputFields) {
    const value = string(node, `outputs.${name}`, OUTPUT_NAME, 'a file name inside --out (letters, digits, . _ -)');
    if (value === undefined) continue;
    if (value === 'transcript.jsonl' || names.has(value)) {
      problem(`outputs.${name}`, node, `"${value}" is already ${value === 'transcript.jsonl' ? 'the transcript' : `outputs.${names.get(value)}`}`);
      continue;
    }
    names.set(value, name);
    outputs[name] = value;
  }
  const witnessNode = top.get('witnesses');
  const witnesses: string[] = [];
  if (!isSeq(witnessNode) || witnessNode.items.length === 0)
    problem('witnesses', witnessNode ?? root, 'must list who witnesses the ceremony (at least one name)');
  else
    for (const [i, item] of (witnessNode.items as Node[]).entries()) {
      const name = string(item, `witnesses[${i}]`);
      if (name !== undefined) witnesses.push(name);
    }
  if (kind) {
    const given: Record<string, boolean> = {
      cluster: cluster !== undefined,
      'inputs.csr': inputs.csr !== undefined,
      'inputs.certificate': inputs.certificate !== undefined,
      'inputs.root-directory': inputs.rootDirectory !== undefined,
      'outputs.csr': outputs.csr !== undefined,
      'outputs.certificate': outputs.certificate !== undefined,
      repository: repository !== undefined,
    };
    for (const field of CEREMONY_KINDS[kind].required) {
      if (!given[field] && !problems.some((p) => p.path.startsWith(field))) problem(field, root, `is missing: a ${kind} ceremony needs it`);
    }
    if (cluster && !['intermediate', 'intermediate-request', 'intermediate-sign'].includes(kind))
      problem('cluster', top.get('cluster'), `is not used by a ${kind} ceremony`);
  }
  if (problems.length)
    throw scriptInvalid(
      file,
      problems.sort((a, b) => a.line - b.line || a.col - b.col),
    );
  const relative = (path: string | undefined) => (path === undefined ? undefined : resolve(base, path));
  return {
    file,
    text,
    sha256: createHash('sha256').update(text).digest('hex'),
    kind: kind!,
    title,
    caDirectory: resolve(base, caDirectory ?? repository!),
    ...(repository !== undefined ? { repository: resolve(base, repository) } : {}),
    devices,
    keys,
    certificate,
    ...(cluster ? { cluster } : {}),
    crl,
    inputs: { csr: relative(inputs.csr), certificate: relative(inputs.certificate), rootDirectory: relative(inputs.rootDirectory) },
    outputs,
    witnesses,
    positions,
  };
}

/**
 * The problem of text that holds a control or format character (a line break, an escape): a
 * report of the ceremony would show it as an escape, not as the script's reviewers read it.
 */
const controlCharacter = (text: string) =>
  `holds a control or format character (${unprintable(text)!}): a ceremony's names and text are printable characters on one line`;

/** Any field name is known (for maps whose keys are names the script chooses). */
function anyField(node: Node | null | undefined): string[] {
  return isMap(node) ? (node.items as Pair<Node, unknown>[]).map((p) => (isScalar(p.key) ? String(p.key.value) : '')) : [];
}

/** An empty mapping, for optional sections that are absent. */
function emptyMap(doc: ReturnType<typeof parseDocument>): Node {
  return doc.createNode({}) as Node;
}

/**
 * The URI of a key of the script on its device, bound to the device's serial (so the keystore
 * finds no other device in its place), as read from the script file.
 */
export function keyUriOf(script: Pick<CeremonyScript, 'file' | 'devices'>, key: KeySpec, device: DeviceSpec = script.devices[key.device]!): string {
  if (device.scheme === 'pkcs11') {
    const parsed = parsePkcs11Uri(device.uri);
    return formatPkcs11Uri({ ...parsed, object: key.label, ...(device.serial !== undefined ? { serial: device.serial } : {}) });
  }
  const parsed = parseYubiKeyUri(device.uri);
  return formatYubiKeyUri({ ...parsed, slot: key.slot, ...(device.serial !== undefined ? { serial: Number(device.serial) } : {}) });
}

/** The key URIs of a script's keys, marked as read from it. */
export function scriptKeyUris(script: CeremonyScript): Record<string, KeyUri> {
  return Object.fromEntries(Object.values(script.keys).map((key) => [key.role, KeyUri.fromFile(keyUriOf(script, key), script.file, `keys.${key.role}`)]));
}

/** Where a field is in a script, for problems found after parsing (a validity beyond the issuer's). */
export function problemAt(script: CeremonyScript, path: string, message: string): ScriptProblem {
  let field = path;
  while (field && !script.positions[field]) field = field.includes('.') ? field.slice(0, field.lastIndexOf('.')) : '';
  const { line, col } = script.positions[field] ?? { line: 1, col: 1 };
  return { path, line, col, message };
}

/** A Keyward error said at the script field it is about (`file:line:col: field: …`), keeping its code and so its exit status. */
export function errorAt(script: CeremonyScript, field: string, error: KeywardError): KeywardError {
  if (error.code === 'CEREMONY_SCRIPT_INVALID') return error;
  const { line, col } = problemAt(script, field, error.message);
  return keywardError(error.code, `${script.file}:${line}:${col}: ${field}: ${error.message}`, {
    cause: error,
    hint: error.hint,
    details: { ...error.details, line, col, field },
  });
}

export const scriptName = (script: CeremonyScript) => basename(script.file);
