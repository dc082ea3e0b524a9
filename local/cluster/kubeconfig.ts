/**
 * Kubeconfig files (https + CA + embedded client certificate) and a minimal HTTPS client the
 * cluster module uses while the control plane comes up (no client library needed for that).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dumpYaml } from '@kubernetes/client-node';

export interface TlsClient {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

/** Writes a single-context kubeconfig with the certificates embedded (mode 0600). */
export async function writeKubeconfig(
  path: string,
  opts: {
    server: string;
    caFile: string;
    certFile: string;
    keyFile: string;
    contextName: string;
    user: string;
  },
): Promise<void> {
  const b64 = (file: string) => readFileSync(file).toString('base64');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: opts.contextName,
        cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caFile) },
      },
    ],
    users: [
      {
        name: opts.user,
        user: { 'client-certificate-data': b64(opts.certFile), 'client-key-data': b64(opts.keyFile) },
      },
    ],
    contexts: [
      {
        name: opts.contextName,
        context: { cluster: opts.contextName, user: opts.user, namespace: 'default' },
      },
    ],
    'current-context': opts.contextName,
    preferences: {},
  };
  await writeFile(path, dumpYaml(doc), { mode: 0o600 });
}

export function tlsClientFromFiles(
  server: string,
  caFile: string,
  certFile: string,
  keyFile: string,
): TlsClient {
  return {
    server,
    ca: readFileSync(caFile, 'utf8'),
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
  };
}

export interface HttpResult {
  status: number;
  body: string;
}

/** One HTTPS request to the API server; never throws on HTTP status, only on transport errors. */
export function apiRequest(
  client: TlsClient,
  method: string,
  path: string,
  body?: unknown,
  opts: { contentType?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const url = new URL(path, client.server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: client.ca,
        cert: client.cert,
        key: client.key,
        agent: false,
        timeout: opts.timeoutMs ?? 5000,
        headers: {
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : {
                'content-type': opts.contentType ?? 'application/json',
                'content-length': Buffer.byteLength(payload),
              }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url.href}`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** GET /readyz returns 200 (false on any error). */
export async function isReady(client: TlsClient): Promise<boolean> {
  try {
    return (await apiRequest(client, 'GET', '/readyz', undefined, { timeoutMs: 2000 })).status === 200;
  } catch {
    return false;
  }
}
