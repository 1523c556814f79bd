/**
 * Load shedding for the CA server. Connections and the memory of request bodies are capped; when a
 * cap is reached, the client cut off is the one that has held its share longest without finishing
 * a request, not the newcomer. A slowloris, a body that never ends, or a client that never reads
 * its answers loses its place; a client that sends its request promptly (a manager asking for a
 * certificate) gets in. Only a connection whose answer is being computed is never shed: once the
 * answer is written, taking it is the client's part, and a client that does not take it has not
 * finished its request.
 */
import type { Socket } from 'node:net';

interface Held {
  /** When the current unfinished stretch began: the connection opened, or an answer was taken. */
  since: number;
  /** Answers on it being computed (HTTP/1.1 pipelining can queue several requests). */
  computing: number;
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
    this.#held.set(socket, { since: performance.now(), computing: 0, bodyBytes: 0 });
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

  /** Frees the memory of a body: its answer is computed (the body is not needed any more), or the request was given up. */
  release(socket: Socket, bytes: number): void {
    const held = this.#held.get(socket);
    if (!held) return; // the connection is gone: #forget released everything it held
    held.bodyBytes -= bytes;
    this.#bodyBytes -= bytes;
  }

  /** A request on `socket` is complete: while its answer is computed, the connection is no candidate for shedding. */
  computing(socket: Socket): void {
    const held = this.#held.get(socket);
    if (held) held.computing++;
  }

  /** The answer is computed and written: from now on the client must take it, and may be shed if it does not. */
  computed(socket: Socket): void {
    const held = this.#held.get(socket);
    if (held) held.computing--;
  }

  /** An answer was taken by the client (or a request given up): with nothing else in the works, the wait for the next request starts. */
  taken(socket: Socket): void {
    const held = this.#held.get(socket);
    if (held?.computing === 0) held.since = performance.now();
  }

  /** Cuts every connection: the end of a drain. */
  cutAll(): void {
    for (const socket of [...this.#held.keys()]) this.#cut(socket);
  }

  #longestUnfinished(except: Socket, eligible: (held: Held) => boolean): Socket | undefined {
    let oldest: [Socket, Held] | undefined;
    for (const entry of this.#held) {
      if (entry[0] === except || entry[1].computing > 0 || !eligible(entry[1])) continue;
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
