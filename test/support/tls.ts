/**
 * Throwaway certificate authorities and server certificates for the TLS tests, made with the
 * `openssl` command line in a temp dir (removed by stopAll).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeDir, track, untrack } from './processes';

const run = promisify(execFile);

export interface TestCa {
  /** PEM file of the CA certificate (what a client or the proxy's caFile trusts). */
  readonly certFile: string;
  readonly certPem: string;
  /** Issues a server certificate for 127.0.0.1 and localhost; returns its PEM cert and key files. */
  issueServerCert(name: string): Promise<{ certFile: string; keyFile: string }>;
}

/** A new self-signed CA (EC P-256, valid one day) named `name`, in its own temp dir. */
export async function makeTestCa(name: string): Promise<TestCa> {
  const dir = await makeTempDir(`ca-${name}`);
  const resource = {
    async stop() {
      untrack(resource);
      await removeDir(dir);
    },
  };
  track(resource);
  const file = (f: string) => path.join(dir, f);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '1',
    '-subj',
    `/CN=influxdb-proxy test CA ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return {
    certFile: file('ca.pem'),
    certPem: await fs.promises.readFile(file('ca.pem'), 'utf8'),
    async issueServerCert(server) {
      const key = file(`${server}.key`);
      const csr = file(`${server}.csr`);
      const cert = file(`${server}.pem`);
      const ext = file(`${server}.ext`);
      await openssl(['req', '-new', ...ecKey, '-keyout', key, '-out', csr, '-subj', `/CN=${server}`]);
      await fs.promises.writeFile(
        ext,
        'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
      );
      await openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        file('ca.pem'),
        '-CAkey',
        file('ca.key'),
        '-CAcreateserial',
        '-out',
        cert,
        '-days',
        '1',
        '-extfile',
        ext,
      ]);
      return { certFile: cert, keyFile: key };
    },
  };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}
