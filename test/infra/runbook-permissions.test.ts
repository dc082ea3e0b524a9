/**
 * The functions' permissions for the runbook's gates and migrations: DescribeAlarms on exactly the
 * service alarms the monitoring gate reads, and RDS snapshots only of the catalog's databases, only
 * under the snapshot names the functions use. The waiting states' task tokens are answered by
 * people (CLI), so the functions get no states:SendTask* permission. Each function has its own role
 * (test/infra/task-permissions.test.ts checks which); the statements here are those of every role.
 */
import { parseCatalog } from '../../functions/domain/config.js';
import { serviceAlarmNames } from '../../functions/domain/gates.js';
import sample from '../../tps.config.js';
import { catalogWithDatabases } from '../helpers/catalogs.js';
import { type CfnTemplate, resourcesOfType, synthTemplate } from '../helpers/synth.js';

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown };
function roleStatements(json: CfnTemplate): Statement[] {
  return resourcesOfType(json, 'AWS::IAM::Policy')
    .map((id) => json.Resources[id]!)
    .filter((p) => /"Tasks[A-Za-z]+Role[0-9A-F]{8}"/.test(JSON.stringify(p.Properties?.Roles)))
    .flatMap((p) => p.Properties!.PolicyDocument.Statement as Statement[]);
}
const actions = (s: Statement) => [s.Action].flat();

test('the monitoring gate may describe exactly the alarms of the catalog services', () => {
  const json = synthTemplate();
  const catalog = parseCatalog(sample);
  const s = roleStatements(json).find((x) => x.Sid === 'ServiceAlarms')!;
  expect(actions(s)).toEqual(['cloudwatch:DescribeAlarms']);
  const text = JSON.stringify(s.Resource);
  const expected = Object.entries(catalog.services).flatMap(([n, svc]) =>
    serviceAlarmNames(catalog.appName, n, svc),
  );
  for (const name of expected) expect(text).toContain(`:alarm:${name}"`);
  expect(text.match(/:alarm:/g)).toHaveLength(expected.length);
});

test('without databases in the catalog there is no RDS permission at all', () => {
  const all = roleStatements(synthTemplate()).flatMap(actions);
  expect(all.filter((a) => a.startsWith('rds:'))).toEqual([]);
  expect(all.filter((a) => a.startsWith('states:SendTask'))).toEqual([]);
});

test('snapshots only of the listed databases, only under the tps-<service>- names', () => {
  const st = roleStatements(synthTemplate({ catalog: catalogWithDatabases }));
  const cluster = st.find(
    (x) => x.Sid === 'ClusterDatabases' && [x.Action].flat().includes('rds:CreateDBClusterSnapshot'),
  )!;
  expect(actions(cluster)).toEqual(['rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots']);
  const c = JSON.stringify(cluster.Resource);
  expect(c).toContain(':cluster:shop-aurora"');
  expect(c).toContain(':cluster-snapshot:tps-api-*"');
  expect(c).not.toContain('shop-legacy');
  const instance = st.find(
    (x) => x.Sid === 'InstanceDatabases' && [x.Action].flat().includes('rds:CreateDBSnapshot'),
  )!;
  expect(actions(instance)).toEqual(['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots']);
  const i = JSON.stringify(instance.Resource);
  expect(i).toContain(':db:shop-legacy"');
  expect(i).toContain(':snapshot:tps-api-*"');
  expect(i).not.toContain('shop-aurora');
  expect([...new Set(st.flatMap(actions).filter((a) => a.startsWith('rds:')))].sort()).toEqual([
    'rds:CreateDBClusterSnapshot',
    'rds:CreateDBSnapshot',
    'rds:DescribeDBClusterSnapshots',
    'rds:DescribeDBSnapshots',
  ]);
});
