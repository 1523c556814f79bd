/**
 * The CA server: cfssl's API over HTTP or HTTPS (optionally mutual TLS with the cluster's node
 * certificates). Nothing a client sends can stop it: every failure inside a request becomes an
 * answer to that request alone, and what any number of clients can hold is bounded (connections,
 * the time to complete a TLS handshake, headers and a request, to take an answer, and the memory
 * of bodies in flight).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { keywardError } from '../../errors.js';
import type { X509Certificate } from 'node:crypto';
import { quoted } from '../../quoted.js';
import type { CertifiedCaller } from './access.js';
import { failure, type Admitted, type ApiResponse, type CfsslApi } from './cfssl-api.js';
import { LoadShedder } from './load-shedding.js';
import { ClientVerifier, describePeer, type ClientTrust } from './peers.js';

export interface TlsSettings {
  /** The server's private key (PEM) and certificate chain (PEM). */
  key: string;
  cert: string;
  /** Mutual TLS: the client certificates accepted (peers.ts); every client must present one. */
  clients?: ClientTrust;
}

/** What the server holds for its clients at most; each default fits a cluster's managers many times over. */
export interface ServerLimits {
  /** Largest request body accepted (a CSR is a few kilobytes). */
  maxBodyBytes: number;
  /** Request bodies held in memory at once, across all clients (past it, see load-shedding.ts). */
  maxBodiesInFlightBytes: number;
  /** Open connections (past it, the longest-unfinished one is cut off: load-shedding.ts). */
  maxConnections: number;
  /** Requests one connection may have waiting for answers, or send at once (cfssl's and SwarmKit's clients send one at a time); past it, the connection is cut. */
  maxPipelinedRequests: number;
  /** How long a client may take to complete the TLS handshake, send its headers, and its whole request. */
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** How long a client may take to take an answer once it is written; past it, the connection is closed. */
  sendTimeoutMs: number;
  /** On close: how long requests in flight may take to finish before their connections are cut. */
  drainMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxBodyBytes: 64 * 1024,
  maxBodiesInFlightBytes: 8 * 1024 * 1024,
  maxConnections: 512,
  maxPipelinedRequests: 16,
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  sendTimeoutMs: 10_000,
  drainMs: 10_000,
};

export interface CaServerOptions {
  api: CfsslApi;
  host?: string;
  port?: number;
  tls?: TlsSettings;
  limits?: Partial<ServerLimits>;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  /** Replaces the TLS settings for new connections (fresh CRLs, a renewed server certificate). */
  updateTls(tls: TlsSettings): void;
  /** Closes the mutual-TLS connections whose client certificate `matches`, saying `why` in the log; returns how many. */
  disconnectClients(matches: (certificate: X509Certificate) => boolean, why: string): number;
  /** What clients hold now: connections, requests being received or answered, the bytes of their bodies. */
  load(): { connections: number; requests: number; bodyBytes: number };
  /** Stops accepting, lets requests in flight finish (within `drainMs`), then closes every connection. */
  close(): Promise<void>;
}

/** Node's parser and timer errors, as the status line the client is told before the connection closes. */
const CLIENT_ERROR_STATUS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
};

/** The TCP connection a request came on (under HTTPS, the one the TLS socket wraps): what the shedder tracks. */
function connectionOf(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}

/** The path of a request-target, whatever its form: the API routes on it and on nothing else. */
function pathOf(target: string | undefined): string {
  const path = (target ?? '/').split('?', 1)[0]!;
  return path.startsWith('/') ? path : path.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') || '/';
}

/** Why listening failed, in words an operator can act on. */
function listenFailure(error: NodeJS.ErrnoException, where: string): Error {
  switch (error.code) {
    case 'EADDRINUSE':
      return keywardError('PORT_IN_USE', `cannot listen on ${where}: another process uses that port`, {
        hint: 'stop it (ss -ltnp shows which), or choose another port with --listen',
        cause: error,
      });
    case 'EACCES':
      return keywardError('PORT_FORBIDDEN', `cannot listen on ${where}: permission denied`, {
        hint: 'ports below 1024 need privileges; choose a port above 1024 with --listen',
        cause: error,
      });
    case 'EADDRNOTAVAIL':
      return keywardError('ADDRESS_UNAVAILABLE', `cannot listen on ${where}: no such address on this machine`, {
        hint: "listen on one of this machine's addresses, or 0.0.0.0",
        cause: error,
      });
    default:
      return keywardError('LISTEN_FAILED', `cannot listen on ${where}: ${error.message}`, { cause: error });
  }
}

export function startCaServer(options: CaServerOptions): Promise<RunningServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = options.log ?? (() => undefined);
  const shedder = new LoadShedder(limits);
  let clientVerifier = options.tls?.clients ? new ClientVerifier(options.tls.clients) : undefined;
  /** Mutual-TLS connections admitted, with whom they are from. */
  const peers = new Map<TLSSocket, { caller: CertifiedCaller; certificate: X509Certificate }>();
  let closing = false;
  /** Responses not yet finished, with their connection: queued ones (pipelining) never close if the client leaves. */
  const inFlight = new Map<ServerResponse, Socket>();
  const forgetConnection = (connection: Socket) => {
    for (const [res, of] of inFlight) if (of === connection) inFlight.delete(res);
  };

  /**
   * Writes an answer. A client that does not take it within the send timeout loses its connection:
   * one that never reads would otherwise hold it for ever. The clock starts when the answer reaches
   * the connection (a pipelined answer waits for those before it).
   */
  const send = (res: ServerResponse, response: ApiResponse) => {
    if (res.headersSent || res.destroyed) return;
    const body = JSON.stringify(response.body);
    res.writeHead(response.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    const deadline = () => {
      const connection = connectionOf(res.req.socket);
      const timer = setTimeout(() => {
        log(`${connection.remoteAddress} did not take its answer within ${limits.sendTimeoutMs} ms: connection closed`);
        connection.destroy();
      }, limits.sendTimeoutMs).unref();
      res.once('close', () => clearTimeout(timer));
    };
    if (res.socket) deadline();
    else res.once('socket', deadline);
  };

  /** Who asked what, for the access log; the path quoted, however long or odd the client made it. */
  const requestLine = (req: IncomingMessage) => `${req.socket.remoteAddress} ${req.method} ${quoted(pathOf(req.url))}`;
  /** An error's message for the log: it may carry what a client sent. */
  const why = (error: unknown) => quoted(String((error as Error)?.message ?? error), 200);

  /** Sends an answer, and logs it with the time the server spent on it since `started`. */
  const reply = (req: IncomingMessage, res: ServerResponse, response: ApiResponse, started: number) => {
    send(res, response);
    log(`${requestLine(req)} ${response.status} ${(performance.now() - started).toFixed(1)} ms`);
  };

  /** Computes and writes the answer to an admitted request; settles once it is written, whatever happened. */
  const answer = (req: IncomingMessage, res: ServerResponse, admitted: Admitted, body: Buffer): Promise<void> => {
    const started = performance.now();
    return options.api
      .answer(admitted, body)
      .then(
        (response) => reply(req, res, response, started),
        (error: unknown) => {
          send(res, failure(500, 500, 'internal error'));
          log(`${requestLine(req)} 500 ${why(error)}`);
        },
      )
      .catch((error: unknown) => log(`answering ${requestLine(req)}: ${why(error)}`));
  };

  /** Runs an event listener so that whatever it throws fails this request alone. */
  const guarded =
    <A extends unknown[]>(res: ServerResponse, listener: (...args: A) => void) =>
    (...args: A) => {
      try {
        listener(...args);
      } catch (error) {
        send(res, failure(500, 500, 'internal error'));
        log(`request failed: ${why(error)}`);
      }
    };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const connection = connectionOf(req.socket);
    // Node goes on parsing what a read brought after a connection is cut: those requests cost nothing more.
    if (connection.destroyed || !shedder.arrived(connection)) return;
    /** The bytes of this request's body held in memory (counted by the shedder). */
    let held = 0;
    const release = () => {
      shedder.release(connection, held);
      held = 0;
    };
    inFlight.set(res, connection);
    res.on('close', () => {
      inFlight.delete(res);
      release();
      shedder.taken(connection);
    });
    req.on('error', () => undefined);
    const refuse = (response: ApiResponse) => {
      send(res, response);
      req.destroy();
    };
    guarded(res, () => {
      const caller = peers.get(req.socket as TLSSocket)?.caller;
      // Defence in depth: a connection the verifier refused is already closed.
      if (clientVerifier && !caller) return refuse(failure(403, 403, 'a client certificate is required'));
      if (closing) res.setHeader('connection', 'close');
      // Refused on its head alone: the body is never held (Node reads it off the wire and drops it).
      const admission = options.api.admit(req.method ?? 'GET', pathOf(req.url), caller);
      if ('refused' in admission) return reply(req, res, admission.refused, performance.now());
      const tooLarge = () => refuse(failure(413, 413, `request body over ${limits.maxBodyBytes} bytes`));
      if (Number(req.headers['content-length'] ?? 0) > limits.maxBodyBytes) return tooLarge();
      const chunks: Buffer[] = [];
      req.on(
        'data',
        guarded(res, (chunk: Buffer) => {
          if (held + chunk.length > limits.maxBodyBytes) return tooLarge();
          if (!shedder.hold(connection, chunk.length)) return refuse(failure(503, 503, 'the server is busy; try again shortly'));
          held += chunk.length;
          chunks.push(chunk);
        }),
      );
      req.on(
        'end',
        guarded(res, () => {
          // A client that has already left is not answered.
          if (res.headersSent || connection.destroyed) return;
          const body = Buffer.concat(chunks.splice(0));
          shedder.computing(connection);
          // Once the answer is written the body is not needed: its memory is free, whether or not the client ever reads.
          void answer(req, res, admission.admitted, body).finally(() => {
            shedder.computed(connection);
            release();
          });
        }),
      );
    })();
  };

  const tlsOptions = (tls: TlsSettings) => ({ key: tls.key, cert: tls.cert, ...clientVerifier?.tlsOptions, minVersion: 'TLSv1.2' as const });
  const timing = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // How often Node looks for clients past those deadlines (its default, 30 s, lets a slow client linger).
    connectionsCheckingInterval: 1_000,
  };
  const server: Server = options.tls
    ? createHttpsServer({ ...tlsOptions(options.tls), ...timing, handshakeTimeout: limits.handshakeTimeoutMs }, handler)
    : createHttpServer(timing, handler);
  server.keepAliveTimeout = 5_000;
  /** Each connection's peer, noted on arrival: a TLS socket that failed no longer knows it. */
  const addresses = new WeakMap<Socket, string>();
  server.on('connection', (socket: Socket) => {
    addresses.set(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    if (shedder.admit(socket)) socket.once('close', () => forgetConnection(socket));
  });
  // A request Node cannot parse, or one too slow: say so when the socket can still hear it, then hang up.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? '400 Bad Request';
    if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    socket.destroy();
  });
  // A failed handshake concerns that client only; the operator hears of it.
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    const why =
      error.code === 'ECONNRESET' ? 'the client hung up' : error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'not completed in time' : (error.code ?? error.message);
    log(`TLS handshake with ${describePeer(socket, addresses.get(connectionOf(socket)))} failed: ${why}`);
  });
  // Each mutual-TLS client is admitted or refused once its handshake is done, before any request is read.
  server.on('secureConnection', (socket: TLSSocket) => {
    if (!clientVerifier) return;
    const verdict = clientVerifier.verdict(socket);
    if ('refused' in verdict) {
      log(`refused TLS client ${describePeer(socket)}: ${verdict.refused}`);
      socket.destroy();
      return;
    }
    if (verdict.note) log(`admitted TLS client ${describePeer(socket)}: ${verdict.note}`);
    peers.set(socket, verdict);
    socket.once('close', () => peers.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  const where = `${host.includes(':') ? `[${host}]` : host}:${options.port ?? 0}`;
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(listenFailure(error, where)));
    server.listen(options.port ?? 0, host, () => {
      server.removeAllListeners('error');
      // Errors of the listening socket itself (out of file descriptors while accepting) must not end the process.
      server.on('error', (error) => log(`server error: ${error.message}`));
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
      resolve({
        url: `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
        port,
        server,
        updateTls: (tls) => {
          clientVerifier = tls.clients ? new ClientVerifier(tls.clients) : undefined;
          (server as ReturnType<typeof createHttpsServer>).setSecureContext(tlsOptions(tls));
        },
        disconnectClients: (matches, why) => {
          let closed = 0;
          for (const [socket, { certificate }] of peers) {
            if (!matches(certificate)) continue;
            log(`closing the connection of ${describePeer(socket)}: ${why}`);
            socket.destroy();
            closed++;
          }
          return closed;
        },
        load: () => ({ ...shedder.load, requests: inFlight.size }),
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            // At the end of the drain every connection goes, also one still in its TLS handshake.
            const cutOff = setTimeout(() => shedder.cutAll(), limits.drainMs).unref();
            server.close(() => {
              clearTimeout(cutOff);
              done();
            });
            server.closeIdleConnections();
            // Keep-alive connections that finish their request are closed, not kept for another.
            for (const res of inFlight.keys()) if (!res.headersSent) res.setHeader('connection', 'close');
          }),
      });
    });
  });
}
