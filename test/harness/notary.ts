/**
 * Notary test parts: a real notary-server (src/testing/notary-server.ts) per test file, keys in a
 * SoftHSM token of this process and on an in-process virtual YubiKey behind one Keystore, and a
 * NotaryContext for a GUN with its own trust directory.
 */
import type { KeyAlgorithm } from '../../src/crypto/algorithms.js';
import type { KeyHandle } from '../../src/keystore/backend.js';
import { NotaryServer } from '../../src/trust/notary/server.js';
import { TrustStore } from '../../src/trust/notary/trust-store.js';
import type { NotaryContext } from '../../src/trust/notary/repository.js';
import { deviceSigner, type Signer } from '../../src/trust/signer.js';
import { readFileSync } from 'node:fs';
import type { NotaryServerRig } from '../../src/testing/notary-server.js';
import { tempDir, type Teardown } from './temp.js';
import { devices } from './tuf-writer.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import type { VirtualYubiKey } from '../../src/hsm/virtual-yubikey/card.js';

export interface NotaryDevices {
  keystore: Keystore;
  card: VirtualYubiKey;
  token: string;
  /** A new key in the SoftHSM token: its handle and signer. */
  softhsm(algorithm: KeyAlgorithm): Promise<{ handle: KeyHandle; signer: Signer; uri: string }>;
  /** A new key on the virtual YubiKey (touch always; the card touches itself). */
  yubikey(slot: string, algorithm: KeyAlgorithm): Promise<{ handle: KeyHandle; signer: Signer; uri: string }>;
  close(): Promise<void>;
}

export async function notaryDevices(t: Teardown): Promise<NotaryDevices> {
  const dev = await devices();
  t.teardown(() => dev.close());
  let n = 0;
  const made = async (handle: KeyHandle) => ({ handle, signer: await deviceSigner(handle), uri: handle.info.uri });
  return {
    keystore: dev.keystore,
    card: dev.card,
    token: dev.token,
    softhsm: async (algorithm) => made(await dev.keystore.generate(`pkcs11:token=${dev.token};object=notary-${algorithm}-${n++}`, { algorithm })),
    yubikey: async (slot, algorithm) =>
      made(await dev.keystore.generate(`yubikey:serial=${dev.card.serial};slot=${slot}`, { algorithm, touchPolicy: 'always' })),
    close: () => dev.close(),
  };
}

/** A context for `gun` on the rig's server, with a trust directory of its own (removed at `t`'s teardown). */
export function notaryContext(
  t: Teardown,
  rig: NotaryServerRig,
  gun: string,
  options: { keystore?: Keystore; trustDir?: string; url?: string; now?: () => Date } = {},
): NotaryContext {
  return {
    gun,
    server: new NotaryServer({ url: options.url ?? rig.url, ca: readFileSync(rig.caFile) }),
    store: new TrustStore(options.trustDir ?? tempDir(t, 'keyward-notary-trust-')),
    keystore: options.keystore,
    now: options.now,
  };
}

let guns = 0;
/** A GUN no other test of this process uses. */
export function uniqueGun(): string {
  return `registry.test:5000/team/app-${process.pid}-${guns++}`;
}

export interface HostileProxy {
  url: string;
  /** Replaces what the server answers for a path ending in `suffix` (bytes), or undefined to pass it through. */
  tamper(rewrite: ((path: string, body: Buffer) => Buffer | undefined) | undefined): void;
  close(): Promise<void>;
}

/**
 * An HTTPS server in front of the rig's notary-server (the same TLS certificate, another port) that
 * passes requests through and may rewrite the answers: a broken or hostile server.
 */
export async function hostileProxy(rig: NotaryServerRig): Promise<HostileProxy> {
  const { createServer } = await import('node:https');
  const { request } = await import('node:https');
  const { join } = await import('node:path');
  let rewrite: ((path: string, body: Buffer) => Buffer | undefined) | undefined;
  const upstream = new URL(rig.url);
  const ca = readFileSync(rig.caFile);
  const server = createServer({ cert: readFileSync(join(rig.dir, 'server.crt')), key: readFileSync(join(rig.dir, 'server.key')) }, (req, res) => {
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      const forward = request({ hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, ca }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const original = Buffer.concat(chunks);
          const replaced = answer.statusCode === 200 ? rewrite?.(req.url ?? '', original) : undefined;
          const out = replaced ?? original;
          res
            .writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/json', 'content-length': out.length })
            .end(out);
        });
      });
      forward.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`,
    tamper: (next) => void (rewrite = next),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
