import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { parseAllDocuments } from 'yaml';
import { TABLE_KEYS } from '../../functions/adapters/aws/dynamodb-store.js';
import { TASK_AWS_CALLS } from '../../functions/contract/permissions.js';
import {
  CLUSTER_ACCESS,
  CLUSTER_TASKS,
  EVENT_TASKS,
  TASK_ENV,
  TASK_KEYS,
  TASKS,
} from '../../functions/contract/tasks.js';
import { ALARM_SIGNALS } from '../../functions/domain/alarms.js';
import { executionTimeoutSeconds } from '../../functions/domain/budget.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { RELEASE_METRICS } from '../../functions/domain/release-metrics.js';
import { pascalCase } from '../../functions/domain/text.js';
import { ALARM_EVENT_DELIVERY, EVENT_PATTERN_MAX_CHARS } from '../../infra/constructs/alarm-rollback-rule.js';
import { OOM_KILLED_METRIC } from '../../infra/constructs/service-alarms.js';
import { RELEASE_HEALTH_TITLES } from '../../infra/constructs/service-dashboard.js';
import { kubernetesGroup } from '../../infra/names.js';
import sample from '../../tps.config.js';
import {
  type CfnResource,
  type CfnTemplate,
  functionTasks,
  resourcesOfType,
  synthStack,
} from '../helpers/synth.js';

const catalog = parseCatalog(sample);
const services = Object.keys(catalog.services);
let template: Template;
let json: CfnTemplate;

beforeAll(() => {
  template = synthStack().template;
  json = template.toJSON() as CfnTemplate;
});

function resourcesWhere(type: string, pred: (r: CfnResource) => boolean): CfnResource[] {
  return resourcesOfType(json, type)
    .map((id) => json.Resources[id]!)
    .filter(pred);
}

function alarm(name: string): CfnResource {
  const found = resourcesWhere('AWS::CloudWatch::Alarm', (r) => r.Properties?.AlarmName === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** A task function (it carries TPS_TASK); the answer endpoint's function does not. */
const isTask = (r: CfnResource) => typeof r.Properties?.Environment?.Variables?.[TASK_ENV] === 'string';

describe('task functions', () => {
  test('one function per task, each with its own TPS_TASK (and the answer endpoint)', () => {
    template.resourceCountIs('AWS::Lambda::Function', TASK_KEYS.length + 1);
    expect(resourcesWhere('AWS::Lambda::Function', isTask)).toHaveLength(TASK_KEYS.length);
    const tasks = Object.values(functionTasks(json)).sort();
    expect(tasks).toEqual([...TASK_KEYS].sort());
  });

  test.each(TASK_KEYS)('%s: nodejs24.x on arm64, traced, timeout and memory from TASKS, env set', (key) => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      Timeout: TASKS[key].timeoutSeconds,
      MemorySize: TASKS[key].memoryMb,
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
      Environment: {
        Variables: Match.objectLike({
          [TASK_ENV]: key,
          TPS_TABLE_NAME: { Ref: Match.stringLikeRegexp('^DeploymentsTable') },
          TPS_TOPIC_ARN: { Ref: Match.stringLikeRegexp('^Notifications') },
          POWERTOOLS_SERVICE_NAME: catalog.appName,
        }),
      },
    });
  });

  test('every function logs to its own log group with a retention', () => {
    const groups = resourcesWhere('AWS::Lambda::Function', isTask).map(
      (f) => f.Properties?.LoggingConfig?.LogGroup?.Ref as string,
    );
    expect(new Set(groups).size).toBe(TASK_KEYS.length);
    for (const g of groups) {
      expect(json.Resources[g]?.Type).toBe('AWS::Logs::LogGroup');
      expect(json.Resources[g]?.Properties?.RetentionInDays).toBeGreaterThan(0);
    }
  });

  test('each task function has a role of its own', () => {
    const roles = resourcesWhere(
      'AWS::Lambda::Function',
      (f) => f.Properties?.Environment?.Variables?.[TASK_ENV],
    ).map((f) => JSON.stringify(f.Properties?.Role));
    expect(roles).toHaveLength(TASK_KEYS.length);
    expect(new Set(roles).size).toBe(TASK_KEYS.length);
  });
});

describe('state machines', () => {
  test.each(services)(
    '%s: Standard, named <appName>-<service>, traced, logging ALL without execution data, timed out after its longest release',
    (svc) => {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: `${catalog.appName}-${svc}`,
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: {
          Level: 'ALL',
          // The waiting states' parameters carry the task token: never into the logs.
          IncludeExecutionData: false,
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }],
        },
      });
      const machine = resourcesWhere(
        'AWS::StepFunctions::StateMachine',
        (r) => r.Properties?.StateMachineName === `${catalog.appName}-${svc}`,
      )[0]!;
      const definition = JSON.stringify(machine.Properties?.DefinitionString);
      expect(definition).toContain(`\\"TimeoutSeconds\\":${executionTimeoutSeconds(catalog.services[svc]!)}`);
    },
  );

  test('one state machine per service, and an output with each ARN', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', services.length);
    for (const svc of services) {
      const id = svc.charAt(0).toUpperCase() + svc.slice(1);
      template.hasOutput(`${id}StateMachineArn`, {
        Value: { Ref: Match.stringLikeRegexp(`^${id}ReleaseStateMachine`) },
      });
    }
    template.hasOutput('TableName', Match.anyValue());
    template.hasOutput('TopicArn', Match.anyValue());
  });

  test('execution logs go to /aws/vendedlogs/states/<name> with a retention', () => {
    for (const svc of services) {
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/vendedlogs/states/${catalog.appName}-${svc}`,
        RetentionInDays: Match.anyValue(),
      });
    }
  });
});

describe('data', () => {
  test('deployments table: keys and indexes from TABLE_KEYS, on demand, PITR, KMS', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: `${catalog.appName}-deployments`,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey.name, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
      LocalSecondaryIndexes: TABLE_KEYS.localIndexes.map((i) => ({
        IndexName: i.indexName,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: i.sortKey.name, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: i.projection },
      })),
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('topic: KMS-encrypted and refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: `${catalog.appName}-notifications`,
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('alarms', () => {
  const t = RUNBOOK.rollbackTriggers;

  test.each(services)('%s: error rate > 1%% for 2 one-minute periods, missing data not breaching', (svc) => {
    const a = alarm(`${catalog.appName}-${svc}-errorRate`).Properties!;
    expect(a.Threshold).toBe(t.errorRate);
    expect(a.ComparisonOperator).toBe('GreaterThanThreshold');
    expect(a.EvaluationPeriods).toBe(t.errorRateForSeconds / 60);
    expect(a.DatapointsToAlarm).toBe(t.errorRateForSeconds / 60);
    expect(a.TreatMissingData).toBe('notBreaching');
    const expr = a.Metrics.find((m: { ReturnData?: boolean }) => m.ReturnData !== false);
    expect(expr.Expression).toBe('IF(requests > 0, FILL(errors, 0) / requests, 0)');
    const svcCfg = catalog.services[svc]!;
    const stats = a.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat);
    expect(stats).toHaveLength(2);
    for (const m of stats) {
      expect(m.MetricStat.Period).toBe(60);
      expect(m.MetricStat.Stat).toBe('Sum');
      if (svcCfg.metrics.source === 'cloudwatch')
        expect(m.MetricStat.Metric.Namespace).toBe(svcCfg.metrics.namespace);
    }
    expect(a.AlarmDescription).toMatch(/^\[critical\]/);
  });

  test.each(services)('%s: p99 > 3x baseline (initially 3x the SLO) for 2 periods', (svc) => {
    const a = alarm(`${catalog.appName}-${svc}-latency`).Properties!;
    expect(a.Threshold).toBe(t.p99BaselineMultiplier * catalog.services[svc]!.slo.p99Ms);
    expect(a.ExtendedStatistic).toBe('p99');
    expect(a.Period).toBe(60);
    expect(a.EvaluationPeriods).toBe(t.p99ForSeconds / 60);
    expect(a.TreatMissingData).toBe('notBreaching');
  });

  test('circuit breaker alarm only where the service declares the metric', () => {
    const a = alarm(`${catalog.appName}-api-circuitBreaker`).Properties!;
    expect(a.MetricName).toBe('CircuitBreakerOpen');
    expect(a.Statistic).toBe('Maximum');
    expect(a.Threshold).toBe(1);
    expect(a.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(a.EvaluationPeriods).toBe(t.circuitBreakerOpenSeconds / 60);
    expect(
      resourcesWhere(
        'AWS::CloudWatch::Alarm',
        (r) => r.Properties?.AlarmName === 'tps-deploy-web-circuitBreaker',
      ),
    ).toHaveLength(0);
  });

  test.each(services)('%s: OOM kills of stable or canary pods from Container Insights', (svc) => {
    const a = alarm(`${catalog.appName}-${svc}-oomKills`).Properties!;
    const pods = a.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).map(
      (m: {
        MetricStat: {
          Metric: { MetricName: string; Namespace: string; Dimensions: { Name: string; Value: string }[] };
        };
      }) => {
        expect(m.MetricStat.Metric.Namespace).toBe('ContainerInsights');
        expect(m.MetricStat.Metric.MetricName).toBe(OOM_KILLED_METRIC);
        return m.MetricStat.Metric.Dimensions.find((d) => d.Name === 'PodName')?.Value;
      },
    );
    const dep = catalog.services[svc]!.deployment;
    expect(pods.sort()).toEqual([dep, `${dep}-tps-canary`]);
    expect(a.Threshold).toBe(1);
    expect(a.TreatMissingData).toBe('notBreaching');
  });

  test.each(services)('%s: metrics-missing warning treats missing data as breaching', (svc) => {
    const a = alarm(`${catalog.appName}-${svc}-metricsMissing`).Properties!;
    expect(a.Statistic).toBe('SampleCount');
    expect(a.ComparisonOperator).toBe('LessThanThreshold');
    expect(a.TreatMissingData).toBe('breaching');
    expect(a.AlarmDescription).toMatch(/^\[warning\]/);
  });

  test('every service alarm carries its severity as a tag and in its description', () => {
    const ours = resourcesWhere('AWS::CloudWatch::Alarm', (r) => typeof r.Properties?.AlarmName === 'string');
    expect(ours).toHaveLength(9);
    for (const r of ours) {
      const signal = (r.Properties!.AlarmName as string).split('-').pop() as keyof typeof ALARM_SIGNALS;
      const severity = ALARM_SIGNALS[signal].severity;
      expect(r.Properties!.Tags).toEqual(expect.arrayContaining([{ Key: 'severity', Value: severity }]));
      expect(r.Properties!.AlarmDescription).toMatch(new RegExp(`^\\[${severity}\\]`));
    }
  });
});

describe('stopped execution -> cleanup', () => {
  test('a rule on ABORTED/TIMED_OUT/FAILED executions of exactly the release state machines targets executionStopped', () => {
    const rules = resourcesWhere(
      'AWS::Events::Rule',
      (r) => JSON.stringify(r.Properties?.EventPattern?.source) === '["aws.states"]',
    );
    expect(rules).toHaveLength(1);
    const rule = rules[0]!.Properties!;
    expect(rule.EventPattern['detail-type']).toEqual(['Step Functions Execution Status Change']);
    expect(rule.EventPattern.detail.status).toEqual(['ABORTED', 'TIMED_OUT', 'FAILED']);
    const machines = resourcesOfType(json, 'AWS::StepFunctions::StateMachine').sort();
    const matched = (rule.EventPattern.detail.stateMachineArn as { Ref: string }[]).map((r) => r.Ref).sort();
    expect(matched).toEqual(machines);
    expect(rule.Targets).toHaveLength(1);
    const target = rule.Targets[0];
    const fn = json.Resources[target.Arn['Fn::GetAtt'][0]]!;
    expect(fn.Properties?.Environment?.Variables?.TPS_TASK).toBe('executionStopped');
    expect(target.DeadLetterConfig).toBeDefined();
    // The last path that rolls a release back: EventBridge's longest retry (185 attempts, 24 h).
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 });
  });
});

describe('function errors of the event-driven rollbacks', () => {
  test('alarmRollback and executionStopped: Lambda retries a failure twice within 6 h, then the alarmed DLQ', () => {
    const configs = resourcesWhere('AWS::Lambda::EventInvokeConfig', () => true);
    const byTask = new Map(
      configs.map((c) => {
        const fnRef = c.Properties!.FunctionName as { Ref: string };
        const task = json.Resources[fnRef.Ref]!.Properties?.Environment?.Variables?.TPS_TASK as string;
        return [task, c.Properties!] as const;
      }),
    );
    expect([...byTask.keys()].sort()).toEqual(['alarmRollback', 'executionStopped']);
    const dlqs = resourcesOfType(json, 'AWS::SQS::Queue');
    for (const cfg of byTask.values()) {
      expect(cfg.MaximumRetryAttempts).toBe(2);
      expect(cfg.MaximumEventAgeInSeconds).toBe(6 * 3600);
      const dest = cfg.DestinationConfig.OnFailure.Destination as { 'Fn::GetAtt': [string, string] };
      expect(dlqs).toContain(dest['Fn::GetAtt'][0]);
    }
  });
});

describe('alarm -> rollback', () => {
  test('rule matches ALARM state changes of exactly the service alarms and targets alarmRollback', () => {
    const rules = resourcesWhere(
      'AWS::Events::Rule',
      (r) => JSON.stringify(r.Properties?.EventPattern?.source) === '["aws.cloudwatch"]',
    );
    expect(rules).toHaveLength(1);
    const rule = rules[0]!.Properties!;
    expect(rule.EventPattern.source).toEqual(['aws.cloudwatch']);
    expect(rule.EventPattern['detail-type']).toEqual(['CloudWatch Alarm State Change']);
    expect(rule.EventPattern.detail).toEqual({ state: { value: ['ALARM'] } });
    const serviceAlarmIds = resourcesOfType(json, 'AWS::CloudWatch::Alarm')
      .filter((id) => typeof json.Resources[id]!.Properties?.AlarmName === 'string')
      .sort();
    const matched = (rule.EventPattern.resources as { 'Fn::GetAtt': [string, string] }[])
      .map((r) => r['Fn::GetAtt'][0])
      .sort();
    expect(matched).toEqual(serviceAlarmIds);

    expect(rule.Targets).toHaveLength(1);
    const target = rule.Targets[0];
    const fnId = target.Arn['Fn::GetAtt'][0];
    expect(functionTasks(json)[fnId]).toBe('alarmRollback');
    expect(target.RetryPolicy).toEqual({
      MaximumRetryAttempts: ALARM_EVENT_DELIVERY.retryAttempts,
      MaximumEventAgeInSeconds: ALARM_EVENT_DELIVERY.maxEventAge.toSeconds(),
    });
    const dlq = target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
    expect(json.Resources[dlq]?.Type).toBe('AWS::SQS::Queue');
    expect(json.Resources[dlq]?.Properties?.SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
  });

  test('many alarms are spread over several rules, each pattern within the size quota', () => {
    const many = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [
        `service-number-${i}`,
        { ...sample.services.api!, deployment: `svc${i}` },
      ]),
    );
    const big = synthStack({ catalog: { ...sample, services: many } }).template.toJSON() as CfnTemplate;
    const rules = resourcesOfType(big, 'AWS::Events::Rule')
      .map((id) => big.Resources[id]!.Properties!)
      .filter((r) => JSON.stringify(r.EventPattern.source) === '["aws.cloudwatch"]');
    expect(rules.length).toBeGreaterThan(1);
    const matched: string[] = [];
    for (const rule of rules) {
      // Measured with the longest partition, region and account a deployment could have.
      const names = (rule.EventPattern.resources as { 'Fn::GetAtt': [string] }[]).map(
        (r) =>
          `arn:aws-us-gov:cloudwatch:ap-southeast-7:123456789012:alarm:${big.Resources[r['Fn::GetAtt'][0]]!.Properties!.AlarmName}`,
      );
      expect(JSON.stringify({ ...rule.EventPattern, resources: names }).length).toBeLessThanOrEqual(
        EVENT_PATTERN_MAX_CHARS,
      );
      expect(rule.Targets[0].DeadLetterConfig).toEqual(rules[0]!.Targets[0].DeadLetterConfig);
      matched.push(...rule.EventPattern.resources.map((r: { 'Fn::GetAtt': [string] }) => r['Fn::GetAtt'][0]));
    }
    const all = resourcesOfType(big, 'AWS::CloudWatch::Alarm').filter(
      (id) => typeof big.Resources[id]!.Properties?.AlarmName === 'string',
    );
    expect(matched.sort()).toEqual(all.sort());
    expect(all).toHaveLength(12 * 5);
  });

  test('dead-letter queue enforces TLS, and an alarm on visible messages notifies the topic', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^Notifications') }],
    });
  });
});

describe('dashboards', () => {
  function body(svc: string): string {
    const d = resourcesWhere(
      'AWS::CloudWatch::Dashboard',
      (r) => r.Properties?.DashboardName === `${catalog.appName}-${svc}`,
    );
    expect(d).toHaveLength(1);
    const b = d[0]!.Properties!.DashboardBody;
    return typeof b === 'string'
      ? b
      : (b['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
  }

  test('api: the six views, canary vs stable by version, SLO line, alarms, recent deployments', () => {
    const b = body('api');
    expect(b).toContain('Error rate');
    expect(b).toContain('Latency p50 / p99 per version');
    expect(b).toContain('Throughput');
    expect(b).toContain('Queue depth');
    expect(b).toContain('Worker utilization');
    expect(b).toContain('CPU %');
    expect(b).toContain('Memory %');
    expect(b).toContain('disk %');
    // one line per version: SEARCH over the schema that includes the version dimension
    expect(b).toContain(
      String.raw`SEARCH('{\"Shop/Api\",\"Service\",\"Version\"} MetricName=\"Latency\" \"Service\"=\"api\"', 'p99', 60)`,
    );
    expect(b).toContain('"label":"SLO p99 300 ms"');
    expect(b).toContain('"PodName","api-tps-canary"');
    expect(b).toContain('"annotations":{"alarms"');
    expect(b).toContain('tps-deploy history --service api');
    expect(b).toContain('filter type in');
    expect(b).not.toContain('not configured');
  });

  /** The dashboard's widgets, parsed from its body (refs stand in as `<ref>`). */
  function widgets(svc: string): { properties: Record<string, unknown> }[] {
    return (JSON.parse(body(svc)) as { widgets: { properties: Record<string, unknown> }[] }).widgets;
  }

  test.each(services)(
    '%s: the release-health view draws the release metrics the functions emit, by its service',
    (svc) => {
      const ws = widgets(svc);
      const byTitle = (title: string) => {
        const found = ws.filter((w) => w.properties.title === title);
        expect(found).toHaveLength(1);
        return found[0]!.properties as { metrics: unknown[][]; period: number; start: string };
      };
      const { namespace, names, dimensions } = RELEASE_METRICS;
      /** Every metric line of a widget as [namespace, name, ...dimension pairs]. */
      const lines = (title: string) =>
        byTitle(title).metrics.filter((m) => typeof m[0] === 'string' && m[0] === namespace);
      const named = (title: string) => lines(title).map((m) => m[1]);
      /** A line's dimensions, whatever order CDK writes them in. */
      const dims = (m: unknown[]) => {
        const pairs = m.slice(2).filter((x) => typeof x === 'string') as string[];
        return Object.fromEntries(pairs.flatMap((x, i) => (i % 2 === 0 ? [[x, pairs[i + 1]]] : [])));
      };

      const frequency = byTitle(RELEASE_HEALTH_TITLES.frequency);
      expect(frequency.period).toBe(86_400);
      expect(frequency.start).toBe('-P30D');
      expect(named(RELEASE_HEALTH_TITLES.frequency)).toEqual([
        names.started,
        names.succeeded,
        names.rolledBack,
        names.failed,
      ]);
      for (const m of lines(RELEASE_HEALTH_TITLES.frequency)) {
        expect(dims(m)).toEqual({ [dimensions.service]: svc });
        expect(m.at(-1)).toEqual(expect.objectContaining({ stat: 'Sum' }));
      }

      // Change failure rate: metric math over the two counts (hidden), rolled back / ended.
      const cfr = byTitle(RELEASE_HEALTH_TITLES.changeFailureRate).metrics;
      const expr = cfr.find((m) => (m[0] as { expression?: string }).expression !== undefined)!;
      expect((expr[0] as { expression: string }).expression).toBe(
        '100 * FILL(rolledBack, 0) / (FILL(succeeded, 0) + FILL(rolledBack, 0))',
      );
      expect(named(RELEASE_HEALTH_TITLES.changeFailureRate).sort()).toEqual(
        [names.rolledBack, names.succeeded].sort(),
      );
      for (const m of lines(RELEASE_HEALTH_TITLES.changeFailureRate)) {
        expect(m.at(-1)).toEqual(expect.objectContaining({ visible: false, stat: 'Sum' }));
      }

      expect(new Set(named(RELEASE_HEALTH_TITLES.timeToRestore))).toEqual(new Set([names.timeToRollBack]));
      expect(new Set(named(RELEASE_HEALTH_TITLES.timeToDetect))).toEqual(new Set([names.timeToDetect]));
      expect(lines(RELEASE_HEALTH_TITLES.duration).map((m) => [m[1], dims(m)])).toEqual(
        ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].map((outcome) => [
          names.duration,
          { [dimensions.service]: svc, [dimensions.outcome]: outcome },
        ]),
      );
      for (const title of [RELEASE_HEALTH_TITLES.timeToRestore, RELEASE_HEALTH_TITLES.timeToDetect]) {
        for (const m of lines(title)) expect(dims(m)).toEqual({ [dimensions.service]: svc });
      }
    },
  );

  test('web: views without a metric say how to configure them', () => {
    const b = body('web');
    expect(b).toContain('not configured: set metrics.queueDepth in tps.config.ts');
    expect(b).toContain('not configured: set metrics.workerUtilization in tps.config.ts');
    expect(b).toContain('not configured: set metrics.circuitBreaker in tps.config.ts');
  });
});

describe('permissions', () => {
  /** Every statement of the functions' role, flattened. */
  function roleStatements(): { Action: string | string[]; Resource: unknown; Sid?: string }[] {
    const policies = resourcesWhere('AWS::IAM::Policy', (p) =>
      /"Tasks[A-Za-z]+Role[0-9A-F]{8}"/.test(JSON.stringify(p.Properties?.Roles)),
    );
    return policies.flatMap((p) => p.Properties!.PolicyDocument.Statement);
  }
  const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  test('every Resource "*" statement in the template is on the allow-list', () => {
    // Identity policies and resource policies alike. Each entry is justified where it is granted.
    const allowed = [
      // X-Ray from active tracing on each function's role: no resource-level permissions.
      ...TASK_KEYS.map(() => 'AWS::IAM::Policy:Allow:xray:PutTelemetryRecords,xray:PutTraceSegments'),
      // GetMetricData (the roles of the tasks that read metrics): no resource-level permissions.
      ...TASK_KEYS.filter((t) => TASK_AWS_CALLS[t].includes('MetricsSource.window')).map(
        () => 'AWS::IAM::Policy:Allow:cloudwatch:GetMetricData',
      ),
      // The same on the answer endpoint's own role.
      'AWS::IAM::Policy:Allow:xray:PutTelemetryRecords,xray:PutTraceSegments',
      // State machine log delivery and X-Ray (one each per state machine): no resource-level permissions.
      'AWS::IAM::Policy:Allow:logs:CreateLogDelivery,logs:DeleteLogDelivery,logs:DescribeLogGroups,logs:DescribeResourcePolicies,logs:GetLogDelivery,logs:ListLogDeliveries,logs:PutResourcePolicy,logs:UpdateLogDelivery',
      'AWS::IAM::Policy:Allow:logs:CreateLogDelivery,logs:DeleteLogDelivery,logs:DescribeLogGroups,logs:DescribeResourcePolicies,logs:GetLogDelivery,logs:ListLogDeliveries,logs:PutResourcePolicy,logs:UpdateLogDelivery',
      // X-Ray from tracing on the state machines (one per state machine): no resource-level permissions.
      'AWS::IAM::Policy:Allow:xray:GetSamplingRules,xray:GetSamplingTargets,xray:PutTelemetryRecords,xray:PutTraceSegments',
      'AWS::IAM::Policy:Allow:xray:GetSamplingRules,xray:GetSamplingTargets,xray:PutTelemetryRecords,xray:PutTraceSegments',
      // Key policy: "*" there means this key. The account administers it; CloudWatch alarm
      // actions may publish to the topic the key encrypts.
      'AWS::KMS::Key:Allow:kms:*',
      'AWS::KMS::Key:Allow:kms:Decrypt,kms:GenerateDataKey*',
    ].sort();
    const found: string[] = [];
    for (const [, r] of Object.entries(json.Resources)) {
      const docs =
        r.Type === 'AWS::IAM::Policy'
          ? [r.Properties?.PolicyDocument]
          : r.Type === 'AWS::IAM::Role'
            ? (r.Properties?.Policies ?? []).map((p: { PolicyDocument: unknown }) => p.PolicyDocument)
            : r.Type === 'AWS::KMS::Key'
              ? [r.Properties?.KeyPolicy]
              : r.Type.endsWith('Policy')
                ? [r.Properties?.PolicyDocument]
                : [];
      for (const doc of docs) {
        for (const s of doc?.Statement ?? []) {
          const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
          if (resources.includes('*')) found.push(`${r.Type}:${s.Effect}:${actionsOf(s).sort().join(',')}`);
        }
      }
    }
    expect(found.sort()).toEqual(allowed);
  });

  test('functions: DynamoDB item operations on the table, Query only on the history index, nothing else on DynamoDB', () => {
    const ddb = roleStatements().filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(ddb.length).toBeGreaterThan(TASK_KEYS.length / 2);
    const actions = new Set(ddb.flatMap(actionsOf));
    expect([...actions].sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    for (const st of ddb) {
      const on = JSON.stringify(st.Resource);
      if (actionsOf(st).includes('dynamodb:Query')) {
        expect(actionsOf(st)).toEqual(['dynamodb:Query']);
        expect(on).toContain('/index/history');
      } else {
        expect(on).not.toContain('/index/');
      }
      expect(on).not.toContain('*');
    }
  });

  test('functions: publish to the topic, describe only the catalog clusters', () => {
    const s = roleStatements();
    const publish = s.find((x) => actionsOf(x).includes('sns:Publish'));
    expect(publish?.Resource).toEqual({ Ref: expect.stringMatching(/^Notifications/) });
    const eks = s.find((x) => x.Sid === 'CatalogClusters');
    expect(actionsOf(eks!)).toEqual(['eks:DescribeCluster']);
    expect(JSON.stringify(eks!.Resource)).toContain(':eks:us-east-1:');
    expect(JSON.stringify(eks!.Resource)).toContain(':cluster/prod-eks');
  });

  test('functions: PutMetricAlarm only on the latency alarms, StopExecution only on our executions', () => {
    const s = roleStatements();
    const puts = s.filter((x) => actionsOf(x).includes('cloudwatch:PutMetricAlarm'));
    expect(puts.length).toBeGreaterThan(0);
    for (const put of puts) {
      const putTargets = JSON.stringify(put.Resource);
      for (const svc of services) expect(putTargets).toContain(`:alarm:${catalog.appName}-${svc}-latency`);
      expect(putTargets.match(/:alarm:/g)).toHaveLength(services.length);
    }
    // The configured threshold lives in the alarm's tags, on the same alarms only.
    for (const action of [
      'cloudwatch:ListTagsForResource',
      'cloudwatch:TagResource',
      'cloudwatch:UntagResource',
    ]) {
      expect(puts.some((put) => actionsOf(put).includes(action))).toBe(true);
    }
    const stop = s.find((x) => actionsOf(x).includes('states:StopExecution'))!;
    const stopTargets = JSON.stringify(stop.Resource);
    for (const svc of services) expect(stopTargets).toContain(`:execution:${catalog.appName}-${svc}:*`);
    expect(stopTargets.match(/:execution:/g)).toHaveLength(services.length);
  });

  test('state machines may invoke the task functions and nothing else', () => {
    const policies = resourcesWhere('AWS::IAM::Policy', (p) =>
      JSON.stringify(p.Properties?.Roles).includes('StateMachineRole'),
    );
    expect(policies).toHaveLength(services.length);
    for (const p of policies) {
      const invoked = new Set<string>();
      for (const s of p.Properties!.PolicyDocument.Statement) {
        if (actionsOf(s).includes('lambda:InvokeFunction')) {
          // The unqualified function ARN only: no `<arn>:*` (versions and aliases are never invoked).
          for (const r of [s.Resource].flat()) {
            expect(Object.keys(r)).toEqual(['Fn::GetAtt']);
            invoked.add(r['Fn::GetAtt'][0]);
          }
        } else {
          expect(actionsOf(s).every((a: string) => a.startsWith('logs:') || a.startsWith('xray:'))).toBe(
            true,
          );
        }
      }
      const tasks = functionTasks(json);
      expect([...invoked].map((id) => tasks[id]).sort()).toEqual(
        TASK_KEYS.filter((k) => !EVENT_TASKS.includes(k)).sort(),
      );
    }
    // Statements CDK moved to overflow managed policies of the state machine roles: logs and X-Ray only.
    const overflow = resourcesWhere('AWS::IAM::ManagedPolicy', (p) =>
      JSON.stringify(p.Properties?.Roles).includes('StateMachineRole'),
    );
    for (const p of overflow) {
      for (const s of p.Properties!.PolicyDocument.Statement) {
        expect(actionsOf(s).every((a: string) => a.startsWith('logs:') || a.startsWith('xray:'))).toBe(true);
      }
    }
  });

  test('EKS access entries: one per cluster task, STANDARD, in its read or write group of this app, no access policy', () => {
    template.resourceCountIs('AWS::EKS::AccessEntry', CLUSTER_TASKS.length);
    for (const task of CLUSTER_TASKS) {
      template.hasResourceProperties('AWS::EKS::AccessEntry', {
        ClusterName: 'prod-eks',
        Type: 'STANDARD',
        KubernetesGroups: [`tps-deploy-${catalog.appName}-${CLUSTER_ACCESS[task]}`],
        PrincipalArn: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^Tasks${pascalCase(task)}Role`), 'Arn'] },
        AccessPolicies: Match.absent(),
      });
    }
  });

  test('the shipped Kubernetes RoleBindings bind the app read and write groups (kubernetesGroup), namespaced only', () => {
    const file = resolve(import.meta.dirname, '..', '..', 'infra', 'k8s', 'tps-deploy-role.yaml');
    const filled = readFileSync(file, 'utf8').replaceAll('TPS_APP_NAME', 'tps-test');
    const docs = parseAllDocuments(filled).map((d) => d.toJS());
    for (const access of ['read', 'write'] as const) {
      const binding = docs.find(
        (d) => d.kind === 'RoleBinding' && d.metadata.name === `tps-deploy-${access}`,
      );
      const role = docs.find((d) => d.kind === 'Role' && d.metadata.name === binding.roleRef.name);
      expect(role).toBeDefined();
      expect(binding.subjects).toEqual([
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: kubernetesGroup('tps-test', access) },
      ]);
    }
    // Namespaced only: the access entries grant nothing cluster-wide.
    expect(docs.map((d) => d.kind).sort()).toEqual(['Role', 'Role', 'RoleBinding', 'RoleBinding']);
  });

  test('an environment-agnostic stack carries a rule pinning the clusters region', () => {
    const rules = json.Rules as Record<string, { Assertions: { Assert: unknown }[] }>;
    const region = Object.values(rules).find((r) =>
      JSON.stringify(r).includes('EKS clusters are in us-east-1'),
    );
    expect(region?.Assertions[0]?.Assert).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
  });
});

describe('answer endpoint', () => {
  const answerFunctions = () => resourcesWhere('AWS::Lambda::Function', (r) => !isTask(r));

  test('one function behind a function URL with AuthType AWS_IAM, its URL an output', () => {
    expect(answerFunctions()).toHaveLength(1);
    const [id] = resourcesOfType(json, 'AWS::Lambda::Function').filter((i) => !isTask(json.Resources[i]!));
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [id, 'Arn'] },
    });
    template.hasOutput('AnswerUrl', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AnswerFunctionFunctionUrl'), 'FunctionUrl'] },
    });
  });

  /** Every statement of every policy the stack creates, with the roles it is attached to. */
  function statements(): { roles: string[]; actions: string[]; resources: unknown }[] {
    const out: { roles: string[]; actions: string[]; resources: unknown }[] = [];
    for (const p of resourcesWhere('AWS::IAM::Policy', () => true)) {
      const roles = ((p.Properties?.Roles ?? []) as { Ref: string }[]).map((r) => r.Ref);
      for (const st of p.Properties?.PolicyDocument?.Statement ?? []) {
        out.push({ roles, actions: [st.Action].flat(), resources: st.Resource });
      }
    }
    for (const id of resourcesOfType(json, 'AWS::IAM::Role')) {
      for (const inline of (json.Resources[id]!.Properties?.Policies ?? []) as {
        PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] };
      }[]) {
        for (const st of inline.PolicyDocument.Statement) {
          out.push({ roles: [id], actions: [st.Action].flat() as string[], resources: st.Resource });
        }
      }
    }
    return out;
  }

  test('no role the stack creates for people, or for any function but the endpoint, may call states:SendTask*', () => {
    const sendTask = (a: string) => /^states:(SendTask|\*)/.test(a) || a === '*';
    const holders = new Set(
      statements()
        .filter((s) => s.actions.some(sendTask))
        .flatMap((s) => s.roles),
    );
    expect([...holders]).toHaveLength(1);
    const [answerRole] = [...holders];
    expect(answerRole).toMatch(/^AnswerRole/);
    // That role is Lambda's, nobody else's: no person can assume it.
    const trust = json.Resources[answerRole!]!.Properties?.AssumeRolePolicyDocument?.Statement;
    expect(trust).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
    ]);
    // Every other role the stack creates is assumed by a service, never by an account or a user.
    for (const id of resourcesOfType(json, 'AWS::IAM::Role')) {
      for (const st of json.Resources[id]!.Properties?.AssumeRolePolicyDocument?.Statement ?? []) {
        expect(Object.keys(st.Principal ?? {})).toEqual(['Service']);
      }
    }
    // And its SendTask* (and StartExecution, for a verified start) is on the release state machines only.
    const grant = statements().find((s) => s.roles.includes(answerRole!) && s.actions.some(sendTask))!;
    expect(grant.actions.sort()).toEqual([
      'states:SendTaskFailure',
      'states:SendTaskSuccess',
      'states:StartExecution',
    ]);
    expect([grant.resources].flat()).toHaveLength(services.length);
    for (const r of [grant.resources].flat()) expect(JSON.stringify(r)).toMatch(/ReleaseStateMachine/);
  });
});
