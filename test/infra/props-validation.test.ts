import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CLUSTER_TASKS } from '../../functions/contract/tasks.js';
import type { CatalogInput } from '../../functions/domain/config.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { ClusterAccess } from '../../infra/constructs/cluster-access.js';
import { ServiceAlarms } from '../../infra/constructs/service-alarms.js';
import { searchExpression } from '../../infra/constructs/service-dashboard.js';
import { TaskFunctions } from '../../infra/constructs/task-functions.js';
import { acknowledgeNag } from '../../infra/nag.js';
import sample from '../../tps.config.js';
import { type CfnTemplate, synthStack } from '../helpers/synth.js';

const api = sample.services.api!;

function withServices(services: CatalogInput['services']): CatalogInput {
  return { ...sample, services };
}

describe('region of the EKS clusters', () => {
  test('clusters in two regions are refused with the regions named', () => {
    const catalog = withServices({
      api,
      other: { ...api, cluster: { name: 'eu-eks', region: 'eu-west-1' } },
    });
    expect(() => synthStack({ catalog })).toThrow(
      /several regions \(us-east-1, eu-west-1\).*one tps-deploy app/,
    );
  });

  test('a stack in another region than the clusters is refused, naming the region to use', () => {
    expect(() => synthStack({ env: { account: '123456789012', region: 'eu-west-1' } })).toThrow(
      /stack's region is eu-west-1 but the catalog's clusters are in us-east-1\. Deploy with CDK_DEFAULT_REGION=us-east-1/,
    );
  });

  test('a stack in the clusters region needs no CloudFormation rule', () => {
    const json = synthStack({
      env: { account: '123456789012', region: 'us-east-1' },
    }).template.toJSON() as CfnTemplate;
    expect(JSON.stringify(json.Rules ?? {})).not.toContain('EKS clusters are in');
  });

  test('one access entry per cluster task and distinct cluster', () => {
    const catalog = withServices({
      api,
      other: { ...api, cluster: { name: 'second-eks', region: 'us-east-1' } },
    });
    const { template } = synthStack({ catalog });
    template.resourceCountIs('AWS::EKS::AccessEntry', 2 * CLUSTER_TASKS.length);
    template.hasResourceProperties('AWS::EKS::AccessEntry', { ClusterName: 'second-eks' });
  });

  test('construct: a cluster listed in two regions is refused', () => {
    const stack = new Stack(new App(), 'S');
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(
      () =>
        new ClusterAccess(stack, 'C', {
          clusters: [
            { name: 'x', region: 'us-east-1' },
            { name: 'x', region: 'us-west-2' },
          ],
          principals: [{ id: 'Task', role, kubernetesGroups: ['tps-deploy-app-read'] }],
        }),
    ).toThrow(/cluster "x" is listed in two regions \(us-east-1 and us-west-2\)/);
    expect(
      () =>
        new ClusterAccess(stack, 'D', {
          clusters: [],
          principals: [
            { id: 'A', role, kubernetesGroups: [] },
            { id: 'B', role, kubernetesGroups: [] },
          ],
        }),
    ).toThrow(/kubernetesGroups is empty for A, B/);
    // EKS allows one access entry per principal and cluster.
    expect(
      () =>
        new ClusterAccess(stack, 'E', {
          clusters: [{ name: 'x', region: 'us-east-1' }],
          principals: [
            { id: 'A', role, kubernetesGroups: ['g'] },
            { id: 'A', role, kubernetesGroups: ['h'] },
          ],
        }),
    ).toThrow(/principal IDs A are given more than once/);
  });
});

describe('a service on synthetic metrics', () => {
  const synthetic = { ...api, metrics: { source: 'synthetic' as const } };

  test('is refused at synth unless marked a sandbox: the error names the service and the field', () => {
    const catalog = withServices({ api: synthetic, web: { ...synthetic, sandbox: false } });
    expect(() => synthStack({ catalog })).toThrow(
      /service "api" has metrics\.source "synthetic".*made-up traffic.*services\.api\.sandbox: true/,
    );
    // Every such service is named, not only the first.
    expect(() => synthStack({ catalog })).toThrow(/service "web" has metrics\.source "synthetic"/);
    expect(() => synthStack({ catalog: withServices({ api: { ...api, sandbox: true } }) })).not.toThrow();
  });

  test('a sandbox gets only the OOM alarm, a warning at synth, and dashboards that say what is missing', () => {
    const catalog = withServices({ api: { ...synthetic, sandbox: true } });
    const { stack, template } = synthStack({ catalog });
    const alarms = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { AlarmName: Match.anyValue() },
    });
    expect(Object.values(alarms).map((a) => a.Properties.AlarmName)).toEqual(['tps-deploy-api-oomKills']);
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('uses synthetic metrics'));
    const dash = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dash).toContain('not configured: metrics.source is \\\\\\"synthetic\\\\\\"');
  });
});

describe('props are checked first, with what is wrong, the value and the fix', () => {
  test('TaskFunctions: projectRoot must be the repository root', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => new TaskFunctions(stack, 'T', { projectRoot: 'relative/path', environment: {} })).toThrow(
      /projectRoot must be the absolute path of the repository root.*got "relative\/path"/,
    );
  });

  test('TaskFunctions: the shared environment may not set TPS_TASK', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () => new TaskFunctions(stack, 'T', { projectRoot: process.cwd(), environment: { TPS_TASK: 'x' } }),
    ).toThrow(/must not set TPS_TASK \(got "x"\)/);
  });

  test('ServiceAlarms: trigger durations must be whole alarm periods', () => {
    const stack = new Stack(new App(), 'S');
    const service = parseCatalog(sample).services.api!;
    expect(
      () =>
        new ServiceAlarms(stack, 'A', {
          appName: 'a',
          serviceName: 'api',
          service,
          triggers: { ...RUNBOOK.rollbackTriggers, errorRateForSeconds: 90 },
        }),
    ).toThrow(/triggers.errorRateForSeconds must be a positive multiple of 60 seconds \(got 90\)/);
    expect(
      () =>
        new ServiceAlarms(stack, 'B', {
          appName: 'a',
          serviceName: 'api',
          service,
          triggers: { ...RUNBOOK.rollbackTriggers, errorRate: 1.5 },
        }),
    ).toThrow(/errorRate must be a ratio between 0 and 1 \(got 1.5\)/);
  });

  test('acknowledgeNag refuses an acknowledgement without a reason', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => acknowledgeNag(stack, 'AwsSolutions-IAM5', 'Resource::*', 'ok')).toThrow(/must say why/);
  });

  test('SEARCH expressions refuse names that would break the quoting', () => {
    expect(() => searchExpression("Bad'Ns", {}, 'Version', 'm', 'Sum', Duration.minutes(1))).toThrow(
      /single quote/,
    );
    expect(
      searchExpression('Shop/Api', { Service: 'api' }, 'Version', 'Latency', 'p99', Duration.minutes(1)),
    ).toBe(`SEARCH('{"Shop/Api","Service","Version"} MetricName="Latency" "Service"="api"', 'p99', 60)`);
  });
});
