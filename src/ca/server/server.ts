/**
 * The CA server: cfssl's API over HTTP or HTTPS (optionally mutual TLS with the cluster's node
 * certificates). Bodies are capped, slow clients are cut off, and a bad request never stops the
 * server: it answers and goes on.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { failure, type ApiResponse, type Caller, type CfsslApi } from './cfssl-api.js';

export interface TlsSettings {
  /** The server's private key (PEM) and certificate chain (PEM). */
  key: string;
  cert: string;
  /** Trusted roots for client certificates; with it, clients must present one (mutual TLS). */
  clientCa?: string;
  /** CRLs (PEM) checked for client certificates. */
  crl?: string[];
}

export interface CaServerOptions {
  api: CfsslApi;
  host?: string;
  port?: number;
  tls?: TlsSettings;
  /** Largest request body accepted (a CSR is a few kilobytes). */
  maxBodyBytes?: number;
  /** How long a client may take to send its headers, and its whole request. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  /** Replaces the TLS settings for new connections (fresh CRLs, a renewed server certificate). */
  updateTls(tls: TlsSettings): void;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 64 * 1024;

function send(res: ServerResponse, response: ApiResponse): void {
  const body = JSON.stringify(response.body);
  res.writeHead(response.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function callerOf(req: IncomingMessage): Caller | undefined {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[]> | undefined;
  const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join('+') : value);
  return subject ? { organization: one(subject.O), organizationalUnit: one(subject.OU), commonName: one(subject.CN) } : undefined;
}

export function startCaServer(options: CaServerOptions): Promise<RunningServer> {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) {
      send(res, failure(413, 413, `request body over ${maxBody} bytes`));
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        send(res, failure(413, 413, `request body over ${maxBody} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const started = performance.now();
      options.api
        .handle(req.method ?? 'GET', new URL(req.url ?? '/', 'http://ca').pathname, Buffer.concat(chunks), callerOf(req))
        .then((response) => {
          send(res, response);
          options.log?.(`${req.socket.remoteAddress} ${req.method} ${req.url} ${response.status} ${(performance.now() - started).toFixed(1)} ms`);
        })
        .catch((error: unknown) => {
          send(res, failure(500, 500, 'internal error'));
          options.log?.(`${req.method} ${req.url} 500 ${(error as Error).message}`);
        });
    });
    req.on('error', () => undefined);
  };
  const tlsOptions = (tls: TlsSettings) => ({
    key: tls.key,
    cert: tls.cert,
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true, ...(tls.crl?.length ? { crl: tls.crl } : {}) } : {}),
    minVersion: 'TLSv1.2' as const,
  });
  const timing = {
    headersTimeout: options.headersTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // How often Node looks for clients past those deadlines (its default, 30 s, lets a slow client linger).
    connectionsCheckingInterval: 1_000,
  };
  const server: Server = options.tls ? createHttpsServer({ ...tlsOptions(options.tls), ...timing }, handler) : createHttpServer(timing, handler);
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (_error, socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port ?? 0;
      const host = options.host ?? '127.0.0.1';
      resolve({
        url: `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
        port,
        server,
        updateTls: (tls) => (server as ReturnType<typeof createHttpsServer>).setSecureContext(tlsOptions(tls)),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
