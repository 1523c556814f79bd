/**
 * A served virtual YubiKey's control socket, beside its state file (`<state>.ctl`): how
 * `keyward yubikey virtual touch` puts a finger on the card from another process. One line per
 * request ("touch", "status"), one JSON line per answer.
 */
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { keywardError } from '../../errors.js';
import type { VirtualYubiKey } from './card.js';

export const controlSocketPath = (statePath: string) => `${statePath}.ctl`;

export function serveControl(card: VirtualYubiKey, path: string): Server {
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const request = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (buffer.length > 1024) return socket.destroy();
        const answer =
          request === 'touch'
            ? { ok: true, touched: card.touch.touch() }
            : request === 'status'
              ? { ok: true, serial: card.serial, firmware: card.firmware.join('.'), waitingForTouch: card.touch.waiting }
              : { ok: false, error: `unknown request "${request.slice(0, 40)}"` };
        socket.write(`${JSON.stringify(answer)}\n`);
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(path);
  return server;
}

/** Sends one request to a served card and returns its answer. */
export function controlRequest(path: string, request: 'touch' | 'status'): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${request}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.includes('\n')) {
        socket.end();
        resolve(JSON.parse(buffer.slice(0, buffer.indexOf('\n'))) as Record<string, unknown>);
      }
    });
    socket.on('error', (cause) =>
      reject(
        keywardError('VIRTUAL_NOT_SERVED', `no virtual YubiKey is being served for this state file (${path})`, {
          cause,
          hint: 'start it with keyward yubikey virtual serve --state <file>',
        }),
      ),
    );
  });
}
