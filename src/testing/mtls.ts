/**
 * A mutual-TLS handshake between two identities with Node's tls (OpenSSL underneath): the server
 * asks for the client's certificate and reports OpenSSL's verdict on it (under TLS 1.3 a refused
 * client would otherwise see only a hang-up). Used by the demo and the tests.
 */
import { connect, createServer, type TLSSocket } from 'node:tls';

export interface TlsIdentity {
  /** Private key, PEM. */
  key: string;
  /** Certificate and chain, PEM. */
  cert: string;
}

export interface HandshakeResult {
  ok: boolean;
  /** What the server answered the client (its greeting names the client's CN). */
  greeting?: string;
  /** The server's role, as the client saw it in the server's certificate. */
  serverRole?: string;
  /** OpenSSL's reason when the server refused the client (e.g. CERT_REVOKED). */
  error?: string;
}

export function mtlsHandshake(options: {
  server: TlsIdentity;
  client: TlsIdentity;
  roots: string;
  serverName: string;
  crl?: string[];
}): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    let verdict: string | undefined;
    const listener = createServer(
      {
        key: options.server.key,
        cert: options.server.cert,
        ca: options.roots,
        requestCert: true,
        rejectUnauthorized: false,
        ...(options.crl?.length ? { crl: options.crl } : {}),
      },
      (socket: TLSSocket) => {
        if (!socket.authorized) {
          verdict = String(socket.authorizationError);
          socket.destroy();
          return;
        }
        socket.end(`hello ${socket.getPeerCertificate().subject.CN}`);
      },
    );
    listener.listen(0, '127.0.0.1', () => {
      const port = (listener.address() as { port: number }).port;
      const socket = connect({
        host: '127.0.0.1',
        port,
        key: options.client.key,
        cert: options.client.cert,
        ca: options.roots,
        servername: options.serverName,
      });
      let received = '';
      let serverRole: string | undefined;
      socket.on('secureConnect', () => (serverRole = socket.getPeerCertificate().subject.OU as string));
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      let done = false;
      const finish = (error?: string) => {
        if (done) return;
        done = true;
        socket.destroy();
        listener.close();
        resolve(received.startsWith('hello') ? { ok: true, greeting: received, serverRole } : { ok: false, error: verdict ?? error ?? 'closed' });
      };
      socket.on('close', () => finish());
      socket.on('error', (error) => finish(error.message));
    });
  });
}
