/** `keyward cert …`: the X.509 certificate stored beside a key, and self-signed certificates made in the device. */
import type { Command } from 'commander';
import { keywardError } from '../src/errors.js';
import { toPem } from '../src/x509/pem.js';
import { CliContext } from './context.js';
import { examples } from './help.js';
import { checkStdout, outputOption, readCertificate, writeOutput } from './io.js';
import { wholeNumber } from './options.js';

const KEY = "'pkcs11:token=demo;object=signer'";

/** `keyward cert`'s commands. */
export function defineCert(cert: Command): void {
  cert
    .command('show')
    .description('print the certificate stored with a key (PEM)')
    .argument('<uri>', 'the key')
    .addOption(outputOption('-o, --out <file>', 'write to a file instead of stdout'))
    .option('--der', 'DER instead of PEM')
    .addHelpText('after', examples([`keyward cert show ${KEY} | openssl x509 -noout -subject -enddate`]))
    .action(async (uri: string, options: { out?: string; der?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      if (!ctx.json) checkStdout(options.out, Boolean(options.der));
      const handle = await ctx.keystore().open(uri);
      const der = await handle.certificate();
      if (!der) {
        throw keywardError('CERTIFICATE_NOT_FOUND', `no certificate is stored with ${handle.info.uri}`, {
          hint: `store one with keyward cert import '${handle.info.uri}' --in cert.pem`,
        });
      }
      if (ctx.json) return ctx.emit({ uri: handle.info.uri, certificate: toPem('CERTIFICATE', der) }, () => '');
      writeOutput(options.out, options.der ? der : toPem('CERTIFICATE', der), Boolean(options.der));
    });

  cert
    .command('import')
    .description('store a certificate with its key (it must be for that key); replaces an older one')
    .argument('<uri>', 'the key')
    .requiredOption('-i, --in <file>', 'the certificate, PEM or DER ("-" for stdin)')
    .addHelpText('after', examples([`keyward cert import ${KEY} --in signer.crt`]))
    .action(async (uri: string, options: { in: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const der = await readCertificate(options.in, '--in');
      const handle = await ctx.keystore().open(uri);
      await handle.setCertificate(der);
      ctx.emit({ uri: handle.info.uri, stored: true }, () => `certificate stored with ${handle.info.uri}`);
    });

  cert
    .command('self-sign')
    .description('make a self-signed certificate for a key, signed inside the device')
    .argument('<uri>', 'the key')
    .requiredOption('-s, --subject <dn>', 'subject and issuer, e.g. "CN=release signer, O=Example"')
    .option('--days <n>', 'validity in days', (v) => wholeNumber(v, '--days'), 365)
    .option('--ca', 'make it a CA certificate (basicConstraints CA, keyCertSign, cRLSign)')
    .option('--store', 'also store it on the device with the key')
    .addOption(outputOption('-o, --out <file>', 'write the PEM to a file instead of stdout'))
    .addHelpText('after', examples([`keyward cert self-sign ${KEY} --subject "CN=signer" --out signer.crt`, 'openssl verify -CAfile signer.crt signer.crt']))
    .action(async (uri: string, options: { subject: string; days: number; ca?: boolean; store?: boolean; out?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const { createSelfSignedCertificate } = await import('../src/certificates/self-signed.js');
      const handle = await ctx.keystore().open(uri);
      const certificate = await createSelfSignedCertificate(handle, { subject: options.subject, days: options.days, ca: options.ca });
      if (options.store) await handle.setCertificate(new Uint8Array(certificate.rawData));
      const pem = toPem('CERTIFICATE', new Uint8Array(certificate.rawData));
      if (ctx.json) return ctx.emit({ uri: handle.info.uri, certificate: pem, stored: Boolean(options.store) }, () => '');
      writeOutput(options.out, pem, false);
    });
}
