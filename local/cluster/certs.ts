/**
 * Certificates for the local control plane, made with the `openssl` CLI: a CA, the API server's
 * serving certificate, other serving certificates (metrics-server, KWOK's kubelet endpoint),
 * client certificates for each identity, and the service-account key pair. The aggregation layer
 * gets its own CA, as in kubeadm: the front-proxy CA signs only the API server's proxy client
 * certificate, and aggregated API servers trust request headers only from that CA.
 * All keys are ECDSA P-256 (fast to generate; accepted by every component and by Node's TLS).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

export interface ClientIdentity {
  /** File stem under the certs directory, e.g. `admin` gives admin.crt / admin.key. */
  file: string;
  commonName: string;
  organizations: string[];
}

/** A serving certificate signed by the cluster CA. */
export interface ServerIdentity {
  /** File stem under the certs directory. */
  file: string;
  commonName: string;
  /** subjectAltName entries, e.g. `IP:127.0.0.1`, `DNS:metrics-server.kube-system.svc`. */
  sans: string[];
}

/** CN of the API server's client certificate towards aggregated API servers. */
export const FRONT_PROXY_CLIENT_CN = 'front-proxy-client';

export interface CertPaths {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** CA of the aggregation layer's request-header authentication (front proxy). */
  frontProxyCaCert: string;
  /** The API server's client certificate when it proxies to an aggregated API server. */
  frontProxyClient: { cert: string; key: string };
  clients: Record<string, { cert: string; key: string }>;
  servers: Record<string, { cert: string; key: string }>;
}

/** Subject alternative names of the API server's serving certificate. */
export const API_SERVER_SANS = [
  'IP:127.0.0.1',
  'DNS:localhost',
  'IP:10.0.0.1',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function subject(commonName: string, organizations: string[] = []): string {
  const esc = (s: string) => s.replace(/[/\\]/g, '\\$&');
  return `${organizations.map((o) => `/O=${esc(o)}`).join('')}/CN=${esc(commonName)}`;
}

async function signLeaf(
  dir: string,
  stem: string,
  subj: string,
  extensions: string[],
  ca = 'ca',
): Promise<{ cert: string; key: string }> {
  const ext = join(dir, `${stem}.ext`);
  await writeFile(ext, `${extensions.join('\n')}\n`);
  await openssl(
    ['req', '-new', ...EC_KEY, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', subj],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${stem}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      `${stem}.crt`,
    ],
    dir,
  );
  await Promise.all([rm(join(dir, `${stem}.csr`)), rm(ext)]);
  return { cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`) };
}

function makeCa(dir: string, stem: string, commonName: string): Promise<void> {
  return openssl(
    [
      'req',
      '-x509',
      '-new',
      ...EC_KEY,
      '-keyout',
      `${stem}.key`,
      '-out',
      `${stem}.crt`,
      '-days',
      '3650',
      '-sha256',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
}

/**
 * Signs one more client certificate with the cluster CA of an existing certs directory (made by
 * {@link generateCerts}): `<file>.crt` / `<file>.key` in `dir`. Used for identities a cluster
 * gets after it started (the functions of each app, identities.ts).
 */
export function signClientCert(dir: string, client: ClientIdentity): Promise<{ cert: string; key: string }> {
  return signLeaf(dir, client.file, subject(client.commonName, client.organizations), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
}

/** Generates every certificate and key into `dir` (created if needed). */
export async function generateCerts(
  dir: string,
  clients: ClientIdentity[],
  servers: ServerIdentity[] = [],
): Promise<CertPaths> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = makeCa(dir, 'ca', 'tps-deploy-local-ca');
  const frontProxyCa = makeCa(dir, 'front-proxy-ca', 'tps-deploy-local-front-proxy-ca');
  const sa = (async () => {
    await openssl(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key'],
      dir,
    );
    await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  })();
  const leafBase = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
  ];
  const frontProxyClient = frontProxyCa.then(() =>
    signLeaf(
      dir,
      'front-proxy-client',
      subject(FRONT_PROXY_CLIENT_CN),
      [...leafBase, 'extendedKeyUsage=clientAuth'],
      'front-proxy-ca',
    ),
  );
  await ca;
  const serving = (file: string, commonName: string, sans: string[]) =>
    signLeaf(dir, file, subject(commonName), [
      ...leafBase,
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${sans.join(',')}`,
    ]);
  const [server, ...rest] = await Promise.all([
    serving('apiserver', 'kube-apiserver', API_SERVER_SANS),
    ...servers.map((s) => serving(s.file, s.commonName, s.sans)),
    ...clients.map((c) =>
      signLeaf(dir, c.file, subject(c.commonName, c.organizations), [
        ...leafBase,
        'extendedKeyUsage=clientAuth',
      ]),
    ),
  ]);
  const serverPairs = rest.slice(0, servers.length);
  const clientPairs = rest.slice(servers.length);
  await sa;
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: server!.cert,
    serverKey: server!.key,
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
    frontProxyCaCert: join(dir, 'front-proxy-ca.crt'),
    frontProxyClient: await frontProxyClient,
    clients: Object.fromEntries(clients.map((c, i) => [c.file, clientPairs[i]!])),
    servers: Object.fromEntries(servers.map((s, i) => [s.file, serverPairs[i]!])),
  };
}
