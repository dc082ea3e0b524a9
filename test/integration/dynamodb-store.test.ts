import { createServer } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import {
  createTableIfMissing,
  DynamoDbDeploymentStore,
  ITEM_KEYS,
  MAX_RECORD_BYTES,
  RecordConflictError,
} from '../../functions/adapters/aws/dynamodb-store.js';
import { DeploymentInProgressError, ERROR_NAMES } from '../../functions/domain/errors.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import type { RollbackPlan } from '../../functions/ports/cluster.js';
import { TableProxy } from '../../local/faults.js';
import { type LocalDynamo, localDynamoClient, startDynalite } from '../helpers/dynalite.js';

let local: LocalDynamo;
let tableCount = 0;

beforeAll(async () => {
  local = await startDynalite();
});
afterAll(async () => {
  await local?.stop();
});

/** A fresh table per test, so tests do not see each other's items. */
async function freshStore(): Promise<{ store: DynamoDbDeploymentStore; tableName: string }> {
  const tableName = `deployments-${++tableCount}`;
  await createTableIfMissing(local.client, tableName);
  return { store: new DynamoDbDeploymentStore({ client: local.client, tableName }), tableName };
}

async function scan(tableName: string): Promise<Record<string, unknown>[]> {
  const doc = DynamoDBDocumentClient.from(local.client);
  const out = await doc.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return (out.Items ?? []).sort((a, b) => `${a.pk}${a.sk}`.localeCompare(`${b.pk}${b.sk}`));
}

function record(
  service: string,
  deploymentId: string,
  startedAt = '2026-11-02T10:00:00.000Z',
): DeploymentRecord {
  return {
    deploymentId,
    service,
    executionArn: `arn:aws:states:us-east-1:123456789012:execution:tps-deploy:${deploymentId}`,
    mode: 'standard',
    requestedBy: 'alice',
    changeRef: 'CHG-1',
    image: `registry.local/${service}:v2`,
    images: { app: `registry.local/${service}:v2` },
    previousImage: null,
    previousImages: null,
    finalImage: null,
    startedAt,
    endedAt: null,
    outcome: 'RUNNING',
    phases: [],
    rollback: null,
    events: [{ at: startedAt, message: 'started' }],
  };
}

const plan: RollbackPlan = {
  namespace: 'shop',
  deployment: 'api',
  replicas: 4,
  template: {
    metadata: { labels: { app: 'api' } },
    spec: { containers: [{ name: 'app', image: 'api:v1' }] },
  },
  images: { app: 'api:v1' },
  generation: 7,
  recordedAt: '2026-11-02T10:00:01.000Z',
};

describe('createTableIfMissing', () => {
  it('creates the table once and reports an existing one', async () => {
    const name = `deployments-create-${++tableCount}`;
    await expect(createTableIfMissing(local.client, name)).resolves.toBe(true);
    await expect(createTableIfMissing(local.client, name)).resolves.toBe(false);
  });
});

describe('DynamoDbDeploymentStore lock', () => {
  it('refuses a second deployment of the same service and leaves the table unchanged', async () => {
    const { store, tableName } = await freshStore();
    await store.begin(record('api', 'd-1'));
    const before = await scan(tableName);

    const refused = store.begin(record('api', 'd-2', '2026-11-02T11:00:00.000Z'));
    await expect(refused).rejects.toBeInstanceOf(DeploymentInProgressError);
    await expect(refused).rejects.toMatchObject({ name: ERROR_NAMES.deploymentInProgress, holder: 'd-1' });

    expect(await scan(tableName)).toEqual(before);
    expect(await store.get('api', 'd-2')).toBeNull();
    expect(await store.active('api')).toMatchObject({ deploymentId: 'd-1', stage: 'releasing' });
  });

  it('lets another service deploy at the same time', async () => {
    const { store } = await freshStore();
    await store.begin(record('api', 'd-1'));
    await store.begin(record('web', 'd-2'));
    expect((await store.active('api'))?.deploymentId).toBe('d-1');
    expect((await store.active('web'))?.deploymentId).toBe('d-2');
  });

  it('treats begin with the same deploymentId as a retry and keeps the stored record', async () => {
    const { store } = await freshStore();
    const first = record('api', 'd-1');
    await store.begin(first);
    const read = await store.get('api', 'd-1');
    read!.events.push({ at: '2026-11-02T10:05:00.000Z', message: 'canary at 10%' });
    await store.put(read!);

    await store.begin(record('api', 'd-1'));

    expect((await store.get('api', 'd-1'))?.events.map((e) => e.message)).toEqual([
      'started',
      'canary at 10%',
    ]);
    expect((await store.active('api'))?.deploymentId).toBe('d-1');
  });

  it('completes a begin that stopped after taking the lock', async () => {
    const { store, tableName } = await freshStore();
    const doc = DynamoDBDocumentClient.from(local.client);
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: ITEM_KEYS.partition('api'),
          sk: ITEM_KEYS.lock,
          deploymentId: 'd-1',
          executionArn: null,
          since: '2026-11-02T10:00:00.000Z',
          stage: 'releasing',
        },
      }),
    );
    expect(await store.get('api', 'd-1')).toBeNull();

    await store.begin(record('api', 'd-1'));

    expect((await store.get('api', 'd-1'))?.deploymentId).toBe('d-1');
  });

  it('releases only for the holder', async () => {
    const { store } = await freshStore();
    await store.begin(record('api', 'd-1'));

    await store.release('api', 'd-other');
    expect((await store.active('api'))?.deploymentId).toBe('d-1');

    await store.release('api', 'd-1');
    expect(await store.active('api')).toBeNull();
    await store.release('api', 'd-1'); // no lock: still a no-op

    await store.begin(record('api', 'd-2', '2026-11-02T12:00:00.000Z'));
    expect((await store.active('api'))?.deploymentId).toBe('d-2');
  });

  it('changes the stage only for the holder', async () => {
    const { store } = await freshStore();
    await store.begin(record('api', 'd-1'));
    await store.setStage('api', 'd-other', 'watching');
    expect((await store.active('api'))?.stage).toBe('releasing');
    await store.setStage('api', 'd-1', 'watching');
    expect(await store.active('api')).toEqual({
      service: 'api',
      deploymentId: 'd-1',
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:tps-deploy:d-1',
      executionStartedAt: null,
      since: '2026-11-02T10:00:00.000Z',
      stage: 'watching',
    });
  });
});

describe('DynamoDbDeploymentStore rollback claim', () => {
  it('has exactly one winner among 10 concurrent claimants', async () => {
    const { store } = await freshStore();
    await store.begin(record('api', 'd-1'));
    const claimants = Array.from({ length: 10 }, (_, i) => `alarm:api-errors:${i}`);

    const results = await Promise.all(claimants.map((c) => store.claimRollback('api', 'd-1', c)));

    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = claimants[results.indexOf(true)]!;
    const loser = claimants[results.indexOf(false)]!;
    // A retry by the winner (its first response lost) still wins; a loser still loses.
    expect(await store.claimRollback('api', 'd-1', winner)).toBe(true);
    expect(await store.claimRollback('api', 'd-1', loser)).toBe(false);
    // Claims are per deployment.
    expect(await store.claimRollback('api', 'd-2', loser)).toBe(true);
  });
});

describe('DynamoDbDeploymentStore records', () => {
  it('gets a record by service and deploymentId alone', async () => {
    const { store } = await freshStore();
    const r = record('api', 'd-1');
    await store.begin(r);
    expect(await store.get('api', 'd-1')).toEqual(r);
    expect(await store.get('api', 'nope')).toBeNull();
    expect(await store.get('web', 'd-1')).toBeNull();
  });

  it('lists history newest first, records only, limited', async () => {
    const { store } = await freshStore();
    const starts = [
      ['d-b', '2026-11-02T09:00:00.000Z'],
      ['d-a', '2026-11-03T09:00:00.000Z'],
      ['d-c', '2026-11-01T09:00:00.000Z'],
      ['d-d', '2026-11-04T09:00:00.000Z'],
    ] as const;
    for (const [id, at] of starts) {
      await store.begin(record('api', id, at));
      await store.savePlan('api', id, plan);
      await store.claimRollback('api', id, 'state-machine');
      await store.release('api', id);
    }
    await store.begin(record('web', 'w-1', '2026-11-05T09:00:00.000Z'));

    expect((await store.history('api', 10)).map((r) => r.deploymentId)).toEqual(['d-d', 'd-a', 'd-b', 'd-c']);
    expect((await store.history('api', 2)).map((r) => r.deploymentId)).toEqual(['d-d', 'd-a']);
    expect(await store.history('api', 0)).toEqual([]);
    expect(await store.history('nobody', 5)).toEqual([]);
  });

  it('saves and reads the rollback plan', async () => {
    const { store } = await freshStore();
    await store.begin(record('api', 'd-1'));
    expect(await store.getPlan('api', 'd-1')).toBeNull();
    await store.savePlan('api', 'd-1', plan);
    expect(await store.getPlan('api', 'd-1')).toEqual(plan);
    expect(await store.getPlan('api', 'd-2')).toBeNull();
  });

  it('refuses a put over a record someone else changed since it was read', async () => {
    const { store } = await freshStore();
    await store.begin(record('api', 'd-1'));
    const mine = (await store.get('api', 'd-1'))!;
    const theirs = (await store.get('api', 'd-1'))!;

    theirs.rollback = {
      trigger: 'alarm:api-errors',
      reason: 'error rate 2%',
      phase: 'watch',
      startedAt: '2026-11-02T10:30:00.000Z',
      completedAt: null,
    };
    await store.put(theirs);
    mine.outcome = 'SUCCEEDED';
    const conflict = store.put(mine);
    await expect(conflict).rejects.toBeInstanceOf(RecordConflictError);
    await expect(conflict).rejects.toMatchObject({ name: ERROR_NAMES.storeUnavailable });

    // Reading again and reapplying the change works; so does a second put of the same object.
    const again = (await store.get('api', 'd-1'))!;
    again.outcome = 'ROLLED_BACK';
    await store.put(again);
    again.endedAt = '2026-11-02T10:40:00.000Z';
    await store.put(again);
    expect(await store.get('api', 'd-1')).toMatchObject({
      outcome: 'ROLLED_BACK',
      endedAt: '2026-11-02T10:40:00.000Z',
      rollback: { trigger: 'alarm:api-errors' },
    });
  });

  it('trims the oldest events of a record that would not fit in an item', async () => {
    const { store } = await freshStore();
    const r = record('api', 'd-1');
    await store.begin(r);
    const big = (await store.get('api', 'd-1'))!;
    for (let i = 0; i < 2000; i++) {
      big.events.push({
        at: `2026-11-02T10:${String(i % 60).padStart(2, '0')}:00.000Z`,
        message: `event ${i} ${'x'.repeat(300)}`,
      });
    }
    expect(Buffer.byteLength(JSON.stringify(big))).toBeGreaterThan(400 * 1024);

    await store.put(big);

    const stored = (await store.get('api', 'd-1'))!;
    expect(Buffer.byteLength(JSON.stringify(stored))).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(stored.events[0]?.message).toMatch(/^\d+ older events trimmed/);
    expect(stored.events.at(-1)?.message).toMatch(/^event 1999 /);
    expect(stored.events.length).toBeGreaterThan(500);
    expect(big.events).toHaveLength(2001); // the caller's object is untouched
  });
});

describe('DynamoDbDeploymentStore when DynamoDB is unreachable', () => {
  let client: DynamoDBClient;
  afterEach(() => client?.destroy());

  it('throws StoreUnavailableError once the SDK gives up', async () => {
    // A port that was free a moment ago and has nothing listening now.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    client = localDynamoClient(`http://127.0.0.1:${port}`, 1);
    const store = new DynamoDbDeploymentStore({ client, tableName: 'deployments' });

    await expect(store.begin(record('api', 'd-1'))).rejects.toMatchObject({
      name: ERROR_NAMES.storeUnavailable,
    });
    await expect(store.active('api')).rejects.toMatchObject({
      name: ERROR_NAMES.storeUnavailable,
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('throws StoreUnavailableError when the endpoint resets connections (socket hang up)', async () => {
    const dynamo = await startDynalite();
    const proxy = await TableProxy.start(dynamo.endpoint);
    client = proxy.client();
    try {
      await createTableIfMissing(dynamo.client, 'reset');
      const store = new DynamoDbDeploymentStore({ client, tableName: 'reset' });
      expect(await store.active('api')).toBeNull();
      proxy.down();
      await expect(store.active('api')).rejects.toMatchObject({ name: ERROR_NAMES.storeUnavailable });
      await expect(store.put(record('api', 'd-1'))).rejects.toMatchObject({
        name: ERROR_NAMES.storeUnavailable,
      });
      expect(proxy.refused).toBeGreaterThanOrEqual(4);
      proxy.up();
      expect(await store.active('api')).toBeNull();
    } finally {
      await proxy.stop();
      await dynamo.stop();
    }
  });
});
