/**
 * Load shedding for the CA server. Connections and the memory of request bodies are capped; when a
 * cap is reached, the client cut off is the one that has held its share longest without finishing
 * a request, not the newcomer. A slowloris or a body that never ends loses its place; a client
 * that sends its request promptly (a manager asking for a certificate) gets in. Requests being
 * answered are never shed.
 */
import type { Socket } from 'node:net';

interface Held {
  /** When the current unfinished stretch began: the connection opened, or its last answer was sent. */
  since: number;
  /** Requests on it being answered (HTTP/1.1 pipelining can queue several). */
  answering: number;
  bodyBytes: number;
}

export class LoadShedder {
  readonly #maxConnections: number;
  readonly #maxBodyBytes: number;
  readonly #held = new Map<Socket, Held>();
  #bodyBytes = 0;

  constructor(limits: { maxConnections: number; maxBodiesInFlightBytes: number }) {
    this.#maxConnections = limits.maxConnections;
    this.#maxBodyBytes = limits.maxBodiesInFlightBytes;
  }

  /** What clients hold now. */
  get load(): { connections: number; bodyBytes: number } {
    return { connections: this.#held.size, bodyBytes: this.#bodyBytes };
  }

  /** A new connection: admitted, shedding the longest-unfinished one when at the cap; false when it must go. */
  admit(socket: Socket): boolean {
    this.#held.set(socket, { since: performance.now(), answering: 0, bodyBytes: 0 });
    socket.once('close', () => this.#forget(socket));
    if (this.#held.size <= this.#maxConnections) return true;
    const victim = this.#longestUnfinished(socket, () => true);
    this.#cut(victim ?? socket);
    return victim !== undefined;
  }

  /** Reserves memory for a body chunk, shedding the longest-unfinished bodies when needed; false when it cannot fit. */
  hold(socket: Socket, bytes: number): boolean {
    const held = this.#held.get(socket);
    if (!held) return false;
    while (this.#bodyBytes + bytes > this.#maxBodyBytes) {
      const victim = this.#longestUnfinished(socket, (other) => other.bodyBytes > 0);
      if (!victim) return false;
      this.#cut(victim);
    }
    held.bodyBytes += bytes;
    this.#bodyBytes += bytes;
    return true;
  }

  /** A request on `socket` is complete: while it is answered, its connection is no candidate for shedding. */
  answering(socket: Socket): void {
    const held = this.#held.get(socket);
    if (held) held.answering++;
  }

  /** A request's answer is sent (or it was given up): its body's memory is free, and the wait for the next one starts. */
  answered(socket: Socket, bodyBytes: number, wasAnswering: boolean): void {
    const held = this.#held.get(socket);
    if (!held) return; // the connection is gone: #forget released everything it held
    held.bodyBytes -= bodyBytes;
    this.#bodyBytes -= bodyBytes;
    if (wasAnswering) held.answering--;
    if (held.answering === 0) held.since = performance.now();
  }

  /** Cuts every connection: the end of a drain. */
  cutAll(): void {
    for (const socket of [...this.#held.keys()]) this.#cut(socket);
  }

  #longestUnfinished(except: Socket, eligible: (held: Held) => boolean): Socket | undefined {
    let oldest: [Socket, Held] | undefined;
    for (const entry of this.#held) {
      if (entry[0] === except || entry[1].answering > 0 || !eligible(entry[1])) continue;
      if (!oldest || entry[1].since < oldest[1].since) oldest = entry;
    }
    return oldest?.[0];
  }

  #cut(socket: Socket): void {
    socket.destroy();
    this.#forget(socket);
  }

  #forget(socket: Socket): void {
    const held = this.#held.get(socket);
    if (!held) return;
    this.#bodyBytes -= held.bodyBytes;
    this.#held.delete(socket);
  }
}
