/**
 * The local CloudWatch and EventBridge read the synthesized template: every alarm of the stack is
 * in a form they evaluate, every rule's pattern in the subset they match, the alarm rule routes
 * exactly the ALARM events of the service alarms, and a function that keeps failing ends in the
 * dead-letter queue whose alarm then goes to ALARM, as in AWS.
 */
import { describe, expect, test } from '@jest/globals';
import { FUNCTION_ERROR_RETRIES } from '../../infra/constructs/alarm-rollback-rule.js';
import { alarmStateChangeEvent } from '../../local/alarm-event.js';
import {
  type AlarmDefinition,
  AlarmDefinitionError,
  alarmsOfTemplate,
  type TemplateResources,
} from '../../local/cloudwatch/alarm-definition.js';
import { LocalEventBus, QueueMetrics } from '../../local/cloudwatch/event-bus.js';
import { checkPattern } from '../../local/cloudwatch/event-pattern.js';
import { LocalCloudWatch, publishedBy } from '../../local/cloudwatch/local-cloudwatch.js';
import {
  publishedToCloudWatch,
  SYNTHETIC_CLOUDWATCH_METRICS,
} from '../../local/cloudwatch/synthetic-metrics.js';
import sampleCatalog from '../../tps.config.js';
import { serviceInput } from '../helpers/catalogs.js';
import { extractAsl, functionTasks, resourcesOfType, synthTemplate } from '../helpers/synth.js';

const sample = synthTemplate();
const syntheticCatalog = { appName: 'tps-local', services: { shop: { ...serviceInput(), sandbox: true } } };
const local = synthTemplate({ catalog: publishedToCloudWatch(syntheticCatalog) });

function names(defs: AlarmDefinition[]) {
  return defs.map((d) => d.name).sort();
}

describe("the stack's alarms are all in a form the local CloudWatch evaluates", () => {
  test('the sample catalog: every service alarm (circuit breaker included) and the dead-letter alarm', () => {
    const defs = alarmsOfTemplate(sample);
    expect(defs).toHaveLength(resourcesOfType(sample, 'AWS::CloudWatch::Alarm').length);
    const app = sampleCatalog.appName;
    expect(names(defs)).toEqual(
      expect.arrayContaining([
        `${app}-api-errorRate`,
        `${app}-api-latency`,
        `${app}-api-circuitBreaker`,
        `${app}-api-metricsMissing`,
        `${app}-api-oomKills`,
      ]),
    );
    const byName = new Map(defs.map((d) => [d.name, d]));
    expect(byName.get(`${app}-api-errorRate`)).toMatchObject({
      period: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      threshold: 0.01,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      metric: { kind: 'math', expression: 'IF(requests > 0, FILL(errors, 0) / requests, 0)' },
    });
    expect(byName.get(`${app}-api-metricsMissing`)).toMatchObject({
      treatMissingData: 'breaching',
      evaluationPeriods: 5,
      metric: { kind: 'metric', metric: { stat: 'SampleCount' } },
    });
    // The dead-letter alarm has no name in the template: its logical ID stands for it.
    const dlq = defs.find((d) => d.metric.kind === 'metric' && d.metric.metric.namespace === 'AWS/SQS');
    expect(dlq?.metric).toMatchObject({
      metric: {
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: expect.stringMatching(/^AlarmRollbackDeadLetterQueue/) },
      },
    });
  });

  test('a synthetic service, as local runs synthesize it, has the alarms of a service with CloudWatch metrics, and the same state machine', () => {
    const plain = synthTemplate({ catalog: syntheticCatalog });
    const app = syntheticCatalog.appName;
    const service = Object.keys(syntheticCatalog.services)[0]!;
    expect(names(alarmsOfTemplate(plain)).filter((n) => n.startsWith(app))).toEqual([
      `${app}-${service}-oomKills`,
    ]);
    const defs = alarmsOfTemplate(local);
    expect(names(defs).filter((n) => n.startsWith(app))).toEqual(
      ['errorRate', 'latency', 'metricsMissing', 'oomKills'].map((s) => `${app}-${service}-${s}`).sort(),
    );
    const errorRate = defs.find((d) => d.name === `${app}-${service}-errorRate`)!;
    expect(errorRate.metric.kind === 'math' && errorRate.metric.metrics.map((m) => m.metric)).toEqual([
      {
        namespace: SYNTHETIC_CLOUDWATCH_METRICS.namespace,
        metricName: 'Requests',
        dimensions: { Service: service },
        period: 60,
        stat: 'Sum',
      },
      {
        namespace: SYNTHETIC_CLOUDWATCH_METRICS.namespace,
        metricName: 'Errors',
        dimensions: { Service: service },
        period: 60,
        stat: 'Sum',
      },
    ]);
    expect(extractAsl(local, service)).toEqual(extractAsl(plain, service));
    expect(functionTasks(local)).toEqual(functionTasks(plain));
  });

  test('an alarm in another form makes the whole template refused, naming the alarm and the field', () => {
    const t = JSON.parse(JSON.stringify(sample)) as TemplateResources & {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    t.Resources.Extra = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: 'anomaly',
        ComparisonOperator: 'GreaterThanUpperThreshold',
        EvaluationPeriods: 1,
        ThresholdMetricId: 'ad1',
        Metrics: [{ Id: 'ad1', Expression: 'ANOMALY_DETECTION_BAND(m1, 2)', ReturnData: true }],
      },
    };
    expect(() => alarmsOfTemplate(t)).toThrow(AlarmDefinitionError);
    expect(() => alarmsOfTemplate(t)).toThrow(
      /Extra: alarm anomaly cannot be evaluated locally: ThresholdMetricId is not supported locally.*ComparisonOperator "GreaterThanUpperThreshold"/,
    );
  });
});

describe("the local EventBridge runs the template's rules", () => {
  const delivered: { target: string; event: unknown }[] = [];
  const bus = new LocalEventBus(sample, {
    invoke: async (target, event) => {
      delivered.push({ target, event });
    },
    now: () => new Date('2026-11-02T10:00:00Z'),
  });

  test("every rule's pattern is in the supported subset and targets a task function", () => {
    const rules = resourcesOfType(sample, 'AWS::Events::Rule');
    expect(bus.ruleList.map((r) => r.logicalId).sort()).toEqual(rules.sort());
    for (const r of bus.ruleList) expect(() => checkPattern(r.pattern)).not.toThrow();
    const tasks = functionTasks(sample);
    for (const r of bus.ruleList) for (const t of r.targets) expect(tasks[t]).toBeDefined();
  });

  test("the alarm rule gets every service alarm's ALARM event and nothing else: not OK, not the dead-letter alarm", async () => {
    const defs = alarmsOfTemplate(sample);
    const at = new Date('2026-11-02T10:05:00Z');
    const side = (value: 'OK' | 'ALARM') => ({ value, reason: 'r', reasonData: null, timestamp: at });
    const tasks = functionTasks(sample);
    for (const def of defs) {
      delivered.length = 0;
      await bus.put(alarmStateChangeEvent(def, side('OK'), side('ALARM')));
      await bus.put(alarmStateChangeEvent(def, side('ALARM'), side('OK')));
      const service = def.tags['tps-deploy:service'];
      expect({ alarm: def.name, targets: delivered.map((d) => tasks[d.target]) }).toEqual({
        alarm: def.name,
        targets: service ? ['alarmRollback'] : [],
      });
    }
  });

  test('a failing alarm function is tried 1 + EventInvokeConfig retries times, then queued; the dead-letter alarm sees it', async () => {
    let calls = 0;
    const failing = new LocalEventBus(sample, {
      invoke: async () => {
        calls++;
        throw new Error('table unreachable');
      },
      now: () => new Date('2026-11-02T10:00:30Z'),
    });
    const defs = alarmsOfTemplate(sample);
    const errorRate = defs.find((d) => d.name.endsWith('-api-errorRate'))!;
    const at = new Date('2026-11-02T10:00:00Z');
    const [delivery] = await failing.put(
      alarmStateChangeEvent(
        errorRate,
        { value: 'OK', reason: 'r', reasonData: null, timestamp: at },
        { value: 'ALARM', reason: 'r', reasonData: null, timestamp: at },
      ),
    );
    expect(calls).toBe(1 + FUNCTION_ERROR_RETRIES.retryAttempts);
    expect(delivery).toMatchObject({
      attempts: 1 + FUNCTION_ERROR_RETRIES.retryAttempts,
      error: 'Error: table unreachable',
    });
    const dlqAlarm = defs.find((d) => d.metric.kind === 'metric' && d.metric.metric.namespace === 'AWS/SQS')!;
    const queue = dlqAlarm.metric.kind === 'metric' ? dlqAlarm.metric.metric.dimensions.QueueName! : '';
    expect(failing.queue(queue)).toHaveLength(1);
    const cw = new LocalCloudWatch([dlqAlarm], {
      data: publishedBy([new QueueMetrics(failing)]),
      send: async () => undefined,
      start: at,
    });
    await cw.evaluateUntil(new Date('2026-11-02T10:02:00Z'));
    expect(cw.describe(dlqAlarm.name)?.state).toBe('ALARM');
  });
});
