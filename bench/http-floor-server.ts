/**
 * The floor under any Node CA server: node:http answering every POST with a constant cfssl-shaped
 * success (a certificate's worth of bytes) after reading and parsing the body, in `workers`
 * processes on one port (node:cluster, as `ca serve --workers` runs). No CSR, no key, no ledger:
 * what it serves per second is what HTTP and the load generator leave for the CA's own work.
 *
 *   node --import tsx bench/http-floor-server.ts <workers> <port>
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const [workers, port] = process.argv.slice(2).map(Number) as [number, number];
const answer = JSON.stringify({ success: true, result: { certificate: 'x'.repeat(760) }, errors: [], messages: [] });

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => process.exit(0)); // the workers end with the primary
} else {
  createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      response.setHeader('content-type', 'application/json');
      response.end(answer);
    });
  }).listen(port, '127.0.0.1');
}
