/** Free TCP ports for the real servers that demos and tests start (dockerd's swarm listener, pcscd's vpcd readers). */
import { createServer } from 'node:net';

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive free ports, below Linux's ephemeral range (32768–60999), where
 * outgoing connections could take them meanwhile.
 */
export async function freePort(count = 1): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + count * Math.floor((Math.random() * 12000) / count);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await portFree(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} free consecutive TCP ports`);
}
