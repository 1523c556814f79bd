/**
 * Serving a virtual YubiKey as a card in a real pcscd (through vsmartcard-vpcd), with its control
 * socket for touches. Run it in a process of its own (`keyward yubikey virtual serve`): a PC/SC
 * client in the same event loop can deadlock with it.
 */
import { rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { VpcdConnection } from './vpcd.js';
import { VirtualYubiKey, type RuntimeOptions } from './card.js';
import { controlSocketPath, serveControl } from './control.js';

export interface ServeOptions extends RuntimeOptions {
  statePath: string;
  host?: string;
  /** vpcd's port (35963 for the first reader of a stock vsmartcard-vpcd). */
  port: number;
  onEvent?: (event: string) => void;
}

export interface ServedCard {
  card: VirtualYubiKey;
  connection: VpcdConnection;
  control: Server;
  stop(): Promise<void>;
}

export function serveVirtualYubiKey(options: ServeOptions): ServedCard {
  const card = VirtualYubiKey.load(options.statePath, options);
  card.touch.onWait = () => options.onEvent?.('waiting-for-touch');
  const connection = new VpcdConnection(card, { host: options.host, port: options.port, onEvent: options.onEvent });
  const controlPath = controlSocketPath(options.statePath);
  const control = serveControl(card, controlPath);
  return {
    card,
    connection,
    control,
    stop: async () => {
      await connection.close();
      await new Promise<void>((resolve) => control.close(() => resolve()));
      rmSync(controlPath, { force: true });
    },
  };
}
