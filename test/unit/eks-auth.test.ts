import type { RequestOptions } from 'node:https';
import { DescribeClusterCommand, type DescribeClusterCommandOutput, EKSClient } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  decodeEksToken,
  EKS_TOKEN_MARGIN_SECONDS,
  EKS_TOKEN_PREFIX,
  EKS_TOKEN_REFRESH_SECONDS,
  EKS_TOKEN_VALID_SECONDS,
  EksKubeConfigProvider,
  eksToken,
  LONGEST_TASK_SECONDS,
  presignGetCallerIdentity,
} from '../../functions/adapters/aws/eks-auth.js';
import { TASKS } from '../../functions/contract/tasks.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import type { Clock } from '../../functions/ports/clock.js';

const eks = mockClient(EKSClient);
const CA_DATA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n').toString(
  'base64',
);
const ENDPOINT = 'https://0123456789ABCDEF0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com';

/** DescribeCluster response shape as documented in the EKS API reference (trimmed). */
function describeClusterOutput(
  overrides: Record<string, unknown> = {},
): Partial<DescribeClusterCommandOutput> {
  return {
    cluster: {
      name: 'prod',
      arn: 'arn:aws:eks:us-west-2:123456789012:cluster/prod',
      createdAt: new Date('2026-01-01T00:00:00Z'),
      version: '1.33',
      endpoint: ENDPOINT,
      roleArn: 'arn:aws:iam::123456789012:role/eks-cluster',
      resourcesVpcConfig: {
        subnetIds: ['subnet-1'],
        endpointPublicAccess: false,
        endpointPrivateAccess: true,
      },
      status: 'ACTIVE',
      certificateAuthority: { data: CA_DATA },
      platformVersion: 'eks.5',
      accessConfig: { authenticationMode: 'API' },
      ...overrides,
    },
  };
}

class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

function client(credentials = { accessKeyId: 'akid', secretAccessKey: 'secret' }): EKSClient {
  return new EKSClient({ region: 'us-west-2', credentials });
}

beforeEach(() => {
  eks.reset();
  eks.on(DescribeClusterCommand).resolves(describeClusterOutput());
});

describe('presigned GetCallerIdentity URL', () => {
  // aws/aws-sdk-ruby gems/aws-sdk-core/spec/aws/sts/presigner_spec.rb (regional endpoint, 900 s).
  it('matches the aws-sdk-ruby presigner vector', async () => {
    const url = await presignGetCallerIdentity({
      clusterName: 'my-eks-cluster',
      region: 'us-west-2',
      credentials: { accessKeyId: 'akid', secretAccessKey: 'secret' },
      signingDate: new Date('2016-01-01T11:22:33Z'),
      expiresInSeconds: 900,
    });
    expect(url).toBe(
      'https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15' +
        '&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=akid%2F20160101%2Fus-west-2%2Fsts%2Faws4_request' +
        '&X-Amz-Date=20160101T112233Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id' +
        '&X-Amz-Signature=98828ca931430d3c58b35c01dfa444696584d19f131272e9b55cb18a7491f51a',
    );
  });

  // The same spec's earlier version: global endpoint host, region us-west-2, 59 s.
  it('matches the earlier aws-sdk-ruby vector for the global endpoint', async () => {
    const url = await presignGetCallerIdentity({
      clusterName: 'my-eks-cluster',
      region: 'us-west-2',
      host: 'sts.amazonaws.com',
      credentials: { accessKeyId: 'akid', secretAccessKey: 'secret' },
      signingDate: new Date('2018-08-05T00:00:00Z'),
      expiresInSeconds: 59,
    });
    expect(new URL(url).searchParams.get('X-Amz-Signature')).toBe(
      'd1f6551aafc0f5c57971fe161a12cbe0539fc1681698ea4a4c0fde5abc51e32e',
    );
  });
});

describe('eksToken', () => {
  const request = {
    clusterName: 'prod',
    region: 'eu-central-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    signingDate: new Date('2026-11-02T10:00:00Z'),
  };

  it('is k8s-aws-v1. and unpadded base64url of the presigned URL', async () => {
    const token = await eksToken(request);
    expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
    expect(token.slice(EKS_TOKEN_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/);

    const url = decodeEksToken(token);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('sts.eu-central-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    const q = url.searchParams;
    expect(q.get('Action')).toBe('GetCallerIdentity');
    expect(q.get('Version')).toBe('2011-06-15');
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20261102/eu-central-1/sts/aws4_request');
    expect(q.get('X-Amz-Date')).toBe('20261102T100000Z');
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect(q.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(q.has('X-Amz-Security-Token')).toBe(false);
  });

  it('is deterministic and bound to the cluster name', async () => {
    const a = await eksToken(request);
    expect(await eksToken(request)).toBe(a);
    const other = await eksToken({ ...request, clusterName: 'staging' });
    expect(decodeEksToken(other).searchParams.get('X-Amz-Signature')).not.toBe(
      decodeEksToken(a).searchParams.get('X-Amz-Signature'),
    );
  });

  it('carries the session token of temporary credentials (Lambda role credentials)', async () => {
    const token = await eksToken({
      ...request,
      credentials: async () => ({ ...request.credentials, sessionToken: 'FwoGZXIvYXdzEJr//+/=session' }),
    });
    expect(decodeEksToken(token).searchParams.get('X-Amz-Security-Token')).toBe(
      'FwoGZXIvYXdzEJr//+/=session',
    );
  });

  it('uses the China partition host in cn- regions', async () => {
    const token = await eksToken({ ...request, region: 'cn-north-1' });
    expect(decodeEksToken(token).host).toBe('sts.cn-north-1.amazonaws.com.cn');
  });
});

describe('EksKubeConfigProvider', () => {
  it('builds a KubeConfig from DescribeCluster and a signed token', async () => {
    const clock = new ManualClock(Date.parse('2026-11-02T10:00:00Z'));
    const provider = new EksKubeConfigProvider({ client: client(), clock });

    const kc = await provider.kubeConfig('prod');

    expect(eks).toHaveReceivedCommandWith(DescribeClusterCommand, { name: 'prod' });
    expect(kc.getCurrentCluster()).toMatchObject({
      name: 'prod',
      server: ENDPOINT,
      caData: CA_DATA,
      skipTLSVerify: false,
    });
    const token = kc.getCurrentUser()?.token ?? '';
    expect(token).toBe(
      await eksToken({
        clusterName: 'prod',
        region: 'us-west-2',
        credentials: { accessKeyId: 'akid', secretAccessKey: 'secret' },
        signingDate: clock.now(),
      }),
    );
    // What @kubernetes/client-node will send.
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    expect((opts.headers as Record<string, string>).Authorization).toBe(`Bearer ${token}`);
    expect(String(opts.ca)).toContain('BEGIN CERTIFICATE');
  });

  // EKS accepts a token for 15 min after its X-Amz-Date; the longest task (Clean Up, Roll Back)
  // runs 300 s; 60 s margin. A token is reused below 540 s of age, so every task that takes it
  // ends at least 60 s before it expires.
  it('refuses to hand out a token a 300 s task could outlive: the reuse age is 15 min - 300 s - 60 s', () => {
    const longest = Math.max(...Object.values(TASKS).map((t) => t.timeoutSeconds));
    expect(longest).toBe(300);
    expect(LONGEST_TASK_SECONDS).toBe(longest);
    expect(EKS_TOKEN_VALID_SECONDS).toBe(15 * 60);
    expect(EKS_TOKEN_REFRESH_SECONDS).toBe(15 * 60 - longest - EKS_TOKEN_MARGIN_SECONDS);
    expect(EKS_TOKEN_REFRESH_SECONDS).toBe(540);
  });

  it.each([
    [3 * 60, 'reuses'],
    [539, 'reuses'],
    [540, 'signs again'],
    [10 * 60, 'signs again'], // 600 s + a 300 s task = 15 min: the token would expire mid-task
    [14 * 60 - 1, 'signs again'],
  ])('at an age of %i s it %s the token signed at t0', async (age, expected) => {
    const clock = new ManualClock(Date.parse('2026-11-02T10:00:00Z'));
    const provider = new EksKubeConfigProvider({ client: client(), clock });

    const first = await provider.connection('prod');
    clock.advance(age);
    const later = await provider.connection('prod');

    if (expected === 'reuses') {
      expect(later.token).toBe(first.token);
      expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 1);
    } else {
      expect(later.token).not.toBe(first.token);
      expect(later.signedAt).toEqual(clock.now());
      expect(decodeEksToken(later.token).searchParams.get('X-Amz-Date')).toBe(
        clock
          .now()
          .toISOString()
          .replace(/[-:]|\.\d{3}/g, ''),
      );
      expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 2);
      // ... and keeps the new one from then on.
      expect((await provider.connection('prod')).token).toBe(later.token);
    }
  });

  it('signs a new token for a refused one however young it is, once for all who saw it refused', async () => {
    const clock = new ManualClock(Date.parse('2026-11-02T10:00:00Z'));
    const provider = new EksKubeConfigProvider({ client: client(), clock });
    const access = await provider.access('prod');
    const refused = access.kubeConfig;
    clock.advance(30);

    // Three requests refused with the same token ask at once: one new token.
    const [a, b, c] = await Promise.all([
      access.renew(refused),
      access.renew(refused),
      access.renew(refused),
    ]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(a.getCurrentUser()?.token).not.toBe(refused.getCurrentUser()?.token);
    expect(decodeEksToken(a.getCurrentUser()?.token ?? '').searchParams.get('X-Amz-Date')).toBe(
      '20261102T100030Z',
    );
    expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 2);

    // A request that carried the replaced token gets the new one without another signing; later
    // tasks get the new one too.
    expect(await access.renew(refused)).toBe(a);
    expect(await provider.kubeConfig('prod')).toBe(a);
    expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 2);
  });

  it('caches per cluster and shares one build between concurrent callers', async () => {
    const provider = new EksKubeConfigProvider({
      client: client(),
      clock: new ManualClock(Date.parse('2026-11-02T10:00:00Z')),
    });
    const [a, b] = await Promise.all([provider.connection('prod'), provider.connection('prod')]);
    expect(a).toBe(b);
    expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 1);
    await provider.connection('staging');
    expect(eks).toHaveReceivedCommandTimes(DescribeClusterCommand, 2);
  });

  it('accepts a cluster being upgraded (UPDATING keeps the endpoint serving)', async () => {
    eks.on(DescribeClusterCommand).resolves(describeClusterOutput({ status: 'UPDATING' }));
    const provider = new EksKubeConfigProvider({ client: client() });
    await expect(provider.kubeConfig('prod')).resolves.toBeDefined();
  });

  it.each([
    ['FAILED', ERROR_NAMES.notFound, /is FAILED, not ACTIVE/],
    ['DELETING', ERROR_NAMES.notFound, /is DELETING, not ACTIVE/],
    ['CREATING', ERROR_NAMES.awsTransient, /is CREATING, not ACTIVE yet/],
  ])('refuses a %s cluster with %s', async (status, name, message) => {
    eks.on(DescribeClusterCommand).resolves(describeClusterOutput({ status }));
    const provider = new EksKubeConfigProvider({ client: client() });
    await expect(provider.kubeConfig('prod')).rejects.toMatchObject({
      name,
      message: expect.stringMatching(message),
    });
  });

  it('names what DescribeCluster left out', async () => {
    eks.on(DescribeClusterCommand).resolves(describeClusterOutput({ endpoint: undefined }));
    const provider = new EksKubeConfigProvider({ client: client() });
    await expect(provider.kubeConfig('prod')).rejects.toThrow(/returned no endpoint$/);
  });

  it('says which cluster does not exist, and does not cache failures', async () => {
    eks
      .on(DescribeClusterCommand)
      .rejectsOnce(
        Object.assign(new Error('No cluster found for name: prod.'), {
          name: 'ResourceNotFoundException',
          $metadata: { httpStatusCode: 404 },
        }),
      )
      .resolves(describeClusterOutput());
    const provider = new EksKubeConfigProvider({ client: client() });
    await expect(provider.kubeConfig('prod')).rejects.toMatchObject({
      name: ERROR_NAMES.notFound,
      message:
        'EKS cluster "prod" does not exist in us-west-2; check cluster.name and cluster.region in the catalog',
    });
    await expect(provider.kubeConfig('prod')).resolves.toBeDefined();
  });

  it('turns throttling into AwsTransientError', async () => {
    eks.on(DescribeClusterCommand).rejects(
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const provider = new EksKubeConfigProvider({ client: client() });
    await expect(provider.kubeConfig('prod')).rejects.toMatchObject({ name: ERROR_NAMES.awsTransient });
  });
});
