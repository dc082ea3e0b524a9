/**
 * A Lambda function URL with AuthType AWS_IAM on loopback, for tests: it checks each request's
 * SigV4 signature (service `lambda`) against the secret of its access key, as Lambda does, answers
 * 403 when it does not match, and otherwise hands the function the request as Lambda delivers it
 * (payload format 2.0, the signer's identity in `requestContext.authorizer.iam`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FunctionUrlRequest, FunctionUrlResponse } from '../../functions/handlers/answer-runtime.js';

/** An IAM identity the URL knows: its credentials and the ARN Lambda would report for it. */
export interface TestIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly arn: string;
  readonly accountId: string;
}

export interface LocalFunctionUrl {
  readonly url: string;
  /** Requests refused for a bad or missing signature. */
  readonly refused: number;
  stop(): Promise<void>;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/lambda\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/;

/** Whether the request's signature is the one `identity` would make; the identity when it is. */
async function verify(
  method: string,
  host: string,
  path: string,
  headers: Record<string, string>,
  body: string,
  identities: readonly TestIdentity[],
): Promise<TestIdentity | null> {
  const m = AUTH.exec(headers.authorization ?? '');
  if (!m) return null;
  const [, keyId, , region, signedHeaders] = m;
  const identity = identities.find((i) => i.accessKeyId === keyId);
  const amzDate = headers['x-amz-date'];
  if (!identity || !amzDate) return null;
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signed: Record<string, string> = {};
  for (const h of signedHeaders!.split(';')) if (headers[h] !== undefined) signed[h] = headers[h]!;
  const [hostname, port] = host.split(':');
  const again = await new SignatureV4({
    credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
    region: region!,
    service: 'lambda',
    sha256: Sha256,
  }).sign(
    new HttpRequest({
      method,
      protocol: 'http:',
      hostname,
      ...(port ? { port: Number(port) } : {}),
      path,
      headers: signed,
      body,
    }),
    { signingDate },
  );
  return again.headers.authorization === headers.authorization ? identity : null;
}

/** Starts the URL in front of `handler`. */
export async function startFunctionUrl(
  handler: (event: FunctionUrlRequest) => Promise<FunctionUrlResponse>,
  identities: readonly TestIdentity[],
): Promise<LocalFunctionUrl> {
  let refused = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
      );
      const path = (req.url ?? '/').split('?')[0]!;
      const identity = await verify(req.method ?? 'GET', headers.host ?? '', path, headers, body, identities);
      if (!identity) {
        refused++;
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Message: 'Forbidden' }));
        return;
      }
      const out = await handler({
        body: Buffer.from(body).toString('base64'),
        isBase64Encoded: true,
        requestContext: {
          http: { method: req.method ?? 'GET' },
          authorizer: {
            iam: {
              userArn: identity.arn,
              accountId: identity.accountId,
              callerId: `AROATEST:${identity.accessKeyId}`,
            },
          },
        },
      });
      res.writeHead(out.statusCode, out.headers);
      res.end(out.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    get refused() {
      return refused;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A function URL request as Lambda delivers it with AuthType AWS_IAM (AWS docs, "Request payload
 * format" 2.0), signed by `userArn` (null: no verified caller), with `body` as JSON.
 */
export function signedUrlEvent(userArn: string | null, body: unknown, method = 'POST'): FunctionUrlRequest {
  const accountId = userArn?.split(':')[4] ?? null;
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      host: 'abcdefghij.lambda-url.us-east-1.on.aws',
      'x-amz-date': '20261205T070000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=ASIA.../20261205/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=...',
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdefghij',
      authentication: null,
      authorizer: userArn
        ? {
            iam: {
              accessKey: 'ASIAEXAMPLE',
              accountId,
              callerId: `AROAEXAMPLE:${userArn.split('/').at(-1)}`,
              cognitoIdentity: null,
              principalOrgId: null,
              userArn,
              userId: `AROAEXAMPLE:${userArn.split('/').at(-1)}`,
            },
          }
        : null,
      domainName: 'abcdefghij.lambda-url.us-east-1.on.aws',
      domainPrefix: 'abcdefghij',
      http: { method, path: '/', protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'tps-deploy' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '05/Dec/2026:07:00:00 +0000',
      timeEpoch: Date.parse('2026-12-05T07:00:00.000Z'),
    },
    body: Buffer.from(JSON.stringify(body)).toString('base64'),
    pathParameters: null,
    isBase64Encoded: true,
    stageVariables: null,
  };
  return event;
}
