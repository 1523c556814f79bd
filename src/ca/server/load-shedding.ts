/**
 * Load shedding for the CA server. Connections and the memory of request bodies are capped; when a
 * cap is reached, the client cut off is the one that has held its share longest without finishing
 * a request, not the newcomer. A slowloris, a body that never ends, or a client that never reads
 * its answers loses its place; a client that sends its request promptly (a manager asking for a
 * certificate) gets in. Only a connection whose answer is being computed is never shed: once the
 * answer is written, taking it is the client's part, and a client that does not take it has not
 * finished its request. A connection that pipelines more requests than any client does (HTTP/1.1
 * allows it; cfssl's and SwarmKit's clients send one at a time) is cut: Node parses and the server
 * answers every request a read brings, so one connection could otherwise take the server's time
 * from all others, or have it hold thousands of answers nobody reads.
 */
import type { Socket } from 'node:net';

interface Held {
  /** When the current unfinished stretch began: the connection opened, or an answer was taken. */
  since: number;
  /** Requests on it whose answers the client has not taken yet, the one being received included (HTTP/1.1 pipelining queues several). */
  requests: number;
  /** Of those, the ones whose answer is being computed. */
  computing: number;
  /** Requests that arrived in the turn of the event loop numbered `turn` (what its reads brought). */
  arrivedInTurn: number;
  turn: number;
  bodyBytes: number;
}

export class LoadShedder {
  readonly #maxConnections: number;
  readonly #maxBodyBytes: number;
  readonly #maxPipelined: number;
  readonly #held = new Map<Socket, Held>();
  #bodyBytes = 0;
  /** The current turn of the event loop, counted only while requests arrive. */
  #turn = 0;
  #turnEnds = false;

  constructor(limits: { maxConnections: number; maxBodiesInFlightBytes: number; maxPipelinedRequests: number }) {
    this.#maxConnections = limits.maxConnections;
    this.#maxBodyBytes = limits.maxBodiesInFlightBytes;
    this.#maxPipelined = limits.maxPipelinedRequests;
  }

  /** What clients hold now. */
  get load(): { connections: number; bodyBytes: number } {
    return { connections: this.#held.size, bodyBytes: this.#bodyBytes };
  }

  /** A new connection: admitted, shedding the longest-unfinished one when at the cap; false when it must go. */
  admit(socket: Socket): boolean {
    this.#held.set(socket, { since: performance.now(), requests: 0, computing: 0, arrivedInTurn: 0, turn: -1, bodyBytes: 0 });
    socket.once('close', () => this.#forget(socket));
    if (this.#held.size <= this.#maxConnections) return true;
    const victim = this.#longestUnfinished(socket, () => true);
    this.#cut(victim ?? socket);
    return victim !== undefined;
  }

  /**
   * A request's head arrived on `socket`; false when the connection is cut for it: more of its
   * requests wait for answers than the pipelining cap (a client that does not read its answers
   * makes them pile up), or more came in this turn of the event loop (answers that can be written
   * do not pile up, but each read's requests are all answered before anything else is done).
   */
  arrived(socket: Socket): boolean {
    const held = this.#held.get(socket);
    if (!held) return false;
    const turn = this.#currentTurn();
    if (held.turn !== turn) {
      held.turn = turn;
      held.arrivedInTurn = 0;
    }
    if (++held.requests <= this.#maxPipelined && ++held.arrivedInTurn <= this.#maxPipelined) return true;
    this.#cut(socket);
    return false;
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
    if (!held) return;
    held.requests--;
    if (held.computing === 0) held.since = performance.now();
  }

  /** Cuts every connection: the end of a drain. */
  cutAll(): void {
    for (const socket of [...this.#held.keys()]) this.#cut(socket);
  }

  #currentTurn(): number {
    if (!this.#turnEnds) {
      this.#turnEnds = true;
      // Immediates run once the reads of this turn have been handled.
      setImmediate(() => {
        this.#turn++;
        this.#turnEnds = false;
      });
    }
    return this.#turn;
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
