/**
 * Cost per release: one standard release with the runbook's default windows, run locally on the
 * virtual clock, with everything that AWS bills counted as it happens, priced at us-east-1 list
 * prices (lib/prices.ts).
 *
 * - Step Functions: state transitions = StateEntered events (an `onState` counter).
 * - Lambda: one request per Task state entered; duration = the state's measured time (until the
 *   next state is entered) rounded up to 1 ms, x the task's memory (statemachine/tasks.ts).
 * - CloudWatch GetMetricData: every metrics window the steps ask for (a wrapper on ports.metrics),
 *   x the queries the CloudWatch adapter builds for it (buildWindowRequest on the sample catalog's
 *   services; a window under 60 s is not sent).
 * - Alarms: the alarms the stack creates per service (from the synthesized template), prorated by
 *   the release's share of the alarm-month; the per-release share if the alarms existed only for
 *   releases is given too.
 * - DynamoDB: request units as DynamoDB computes them (dynalite returns ConsumedCapacity when
 *   asked; Query units from the returned items' sizes), by a middleware on the store's client.
 * - SNS: one publish per notification (the SNS notifier publishes each once).
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { buildWindowRequest } from '../functions/adapters/aws/cloudwatch-metrics.js';
import { discardLines } from '../functions/adapters/powertools/output.js';
import { TASKS, type TaskKey } from '../functions/contract/tasks.js';
import { type CatalogInput, parseCatalog, type ServiceConfig } from '../functions/domain/config.js';
import { RUNBOOK } from '../functions/domain/defaults.js';
import type { MetricsQuery } from '../functions/ports/metrics.js';
import { mintFunctionIdentities } from '../local/cluster/identities.js';
import { startLocalDynamo } from '../local/dynalite.js';
import { LocalEnvironment } from '../local/environment.js';
import { extractAsl, synthTemplate, taskOfFunction } from '../local/synth.js';
import sampleCatalog from '../tps.config.js';
import { benchCluster } from './lib/cluster.js';
import { HOURS_PER_MONTH, PRICES } from './lib/prices.js';
import { startMark, type TargetCheck, writeResult } from './lib/results.js';
import { round } from './lib/stats.js';
import * as workloads from './lib/workloads.js';

const NAMESPACE = 'bench-cost';
const SERVICE = 'cost';
const REPLICAS = 4;
/** Real ms between readiness checks: the state machine's 5 s, so the number of polls is AWS's. */
const POLL_MS = RUNBOOK.readinessPollSeconds * 1000;
/** Releases per service per month for the alternative alarm allocation (one per working day). */
const RELEASES_PER_MONTH = 20;
const say = (s: string) => process.stdout.write(`  ${s}\n`);

/** DynamoDB request units and calls, by operation. */
interface DynamoCounts {
  calls: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  failedConditionalWrites: number;
}

const require = createRequire(import.meta.url);
const dynaliteDb = require('dynalite/db') as { itemSize: (item: unknown) => number };
/** A plain JSON value as a DynamoDB AttributeValue (what an item is stored and sized as). */
function attributeValue(v: unknown): unknown {
  if (v === null || v === undefined) return { NULL: true };
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number') return { N: String(v) };
  if (typeof v === 'boolean') return { BOOL: v };
  if (Array.isArray(v)) return { L: v.map(attributeValue) };
  return { M: marshall(v as Record<string, unknown>) };
}

function marshall(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, attributeValue(v)]));
}

const WITH_CAPACITY = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'GetItem', 'Query']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

/** Counts request units on a DynamoDB client (and everything built on it, e.g. the DocumentClient). */
function instrumentDynamo(client: DynamoDBClient): DynamoCounts {
  const counts: DynamoCounts = { calls: {}, readUnits: 0, writeUnits: 0, failedConditionalWrites: 0 };
  const op = (commandName: unknown) => String(commandName ?? '').replace(/Command$/, '');
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = op(context.commandName);
      if (WITH_CAPACITY.has(name)) (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
      return next(args);
    },
    { step: 'initialize', name: 'benchReturnConsumedCapacity' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = op(context.commandName);
      counts.calls[name] = (counts.calls[name] ?? 0) + 1;
      const input = args.input as { ConsistentRead?: boolean };
      try {
        const out = await next(args);
        const o = (out.output ?? {}) as {
          ConsumedCapacity?: { CapacityUnits?: number };
          Items?: unknown[];
        };
        let units = o.ConsumedCapacity?.CapacityUnits;
        if (units === undefined && name === 'Query') {
          // dynalite leaves ConsumedCapacity out of Query: DynamoDB sums the items' sizes, then 4 KB units.
          const bytes = (o.Items ?? []).reduce<number>(
            (s, item) => s + dynaliteDb.itemSize(marshall(item as Record<string, unknown>)),
            0,
          );
          units = Math.max(1, Math.ceil(bytes / 4096)) / (input.ConsistentRead ? 1 : 2);
        }
        if (WRITES.has(name)) counts.writeUnits += units ?? 1;
        else if (WITH_CAPACITY.has(name)) counts.readUnits += units ?? 1;
        return out;
      } catch (e) {
        // A failed conditional write still consumes a write unit (at least one).
        if ((e as { name?: string }).name === 'ConditionalCheckFailedException' && WRITES.has(name)) {
          counts.failedConditionalWrites++;
          counts.writeUnits += 1;
        }
        throw e;
      }
    },
    // Outside everything (the DocumentClient's marshalling included): the output is what the caller gets.
    { step: 'initialize', priority: 'high', name: 'benchCountCapacity' },
  );
  return counts;
}

/** One alarm of the stack, with what CloudWatch bills it by. */
interface AlarmCost {
  readonly name: string;
  readonly metrics: number;
  readonly highResolution: boolean;
  readonly usdPerMonth: number;
}

/** The alarms the stack creates for each service of the sample catalog (tps.config.ts). */
function sampleAlarms(): Record<string, AlarmCost[]> {
  const template = synthTemplate();
  const catalog = parseCatalog(sampleCatalog);
  const out: Record<string, AlarmCost[]> = {};
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::CloudWatch::Alarm') continue;
    const p = r.Properties ?? {};
    const name = String(p.AlarmName ?? '');
    const service = Object.keys(catalog.services).find((s) => name.startsWith(`${catalog.appName}-${s}-`));
    if (!service) continue;
    const metrics: { MetricStat?: { Period?: number }; Period?: number }[] = p.Metrics ?? [];
    const count = metrics.length > 0 ? metrics.filter((m) => m.MetricStat).length : 1;
    const periods =
      metrics.length > 0 ? metrics.map((m) => m.MetricStat?.Period ?? m.Period ?? 60) : [p.Period ?? 60];
    const highResolution = periods.some((s) => s < 60);
    const unit = highResolution
      ? PRICES.alarmHighResPerMetricMonth.usd
      : PRICES.alarmStandardPerMetricMonth.usd;
    out[service] = [
      ...(out[service] ?? []),
      { name, metrics: count, highResolution, usdPerMonth: round(count * unit, 2) },
    ];
  }
  return out;
}

/** GetMetricData queries the CloudWatch adapter sends for one window of `svc` (0 if it sends none). */
function queriesPerWindow(svc: ServiceConfig, query: MetricsQuery): number {
  const request = buildWindowRequest(svc, query);
  return request.end.getTime() - request.start.getTime() < 60_000 ? 0 : request.queries.length;
}

interface Counted {
  readonly version: string;
  readonly status: string;
  readonly virtualSeconds: number;
  readonly transitions: number;
  readonly statesByType: Record<string, number>;
  readonly lambda: { task: TaskKey; state: string; ms: number; memoryMb: number }[];
  readonly windows: MetricsQuery[];
  readonly dynamo: DynamoCounts;
  readonly publishes: number;
}

export async function costBenchmark(opts: { releases?: number } = {}): Promise<string> {
  const releases = opts.releases ?? 3;
  const mark = startMark();
  const cluster = await benchCluster();
  const admin = cluster.kubeconfig;
  await workloads.freshNamespace(admin, NAMESPACE);
  await workloads.createWorkload(admin, NAMESPACE, SERVICE, workloads.imageOf(SERVICE, 'v1.0.0'), REPLICAS);
  await workloads.waitAllReady(admin, NAMESPACE, [SERVICE]);
  const catalog: CatalogInput = {
    appName: workloads.APP_NAME,
    services: { [SERVICE]: workloads.benchService(NAMESPACE, SERVICE) },
  };
  const dynamo = await startLocalDynamo();
  const dynamoCounts = instrumentDynamo(dynamo.client);
  const env = await LocalEnvironment.start({
    catalog,
    kubeconfigs: await mintFunctionIdentities(cluster.kubeconfig, workloads.APP_NAME),
    dynamo,
    functionOutput: discardLines,
  });
  // Which task each Task state runs, from the same synthesized template the executor runs.
  const template = synthTemplate({ catalog });
  const asl = extractAsl(template, SERVICE) as {
    States: Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }>;
  };
  const taskOfState = (state: string): TaskKey | null => {
    const s = asl.States[state];
    if (s?.Type !== 'Task') return null;
    const fn = s.Resource?.includes(':function:') ? s.Resource : s.Parameters?.FunctionName;
    return fn ? taskOfFunction(template, fn) : null;
  };
  const windows: MetricsQuery[] = [];
  const realMetrics = env.ports.metrics.bind(env.ports);
  env.ports.metrics = (svc, start) => {
    const source = realMetrics(svc, start);
    return {
      window: (q: MetricsQuery) => {
        windows.push(q);
        return source.window(q);
      },
    };
  };
  const results: Counted[] = [];
  try {
    for (let i = 0; i <= releases; i++) {
      const version = `v1.${i + 1}.0`;
      const spans: { name: string; type: string; at: number; until: number }[] = [];
      windows.length = 0;
      const dynamoBefore = JSON.parse(JSON.stringify(dynamoCounts)) as DynamoCounts;
      const published = env.notifier.notifications.length;
      const r = await env.run(
        workloads.releaseInput(SERVICE, workloads.imageOf(SERVICE, version), `BENCH-COST-${i}`),
        {
          executionName: `bench-cost-${i}-${Date.now()}`,
          pollMs: POLL_MS,
          onState: (name, type) => {
            const now = performance.now();
            const last = spans.at(-1);
            if (last) last.until = now;
            spans.push({ name, type, at: now, until: now });
          },
        },
      );
      const last = spans.at(-1);
      if (last) last.until = performance.now();
      if (r.status !== 'SUCCEEDED')
        throw new Error(`release ${version} ended ${r.status}: ${r.error}: ${r.cause}`);
      const statesByType: Record<string, number> = {};
      for (const s of spans) statesByType[s.type] = (statesByType[s.type] ?? 0) + 1;
      const lambda = spans.flatMap((s) => {
        const task = taskOfState(s.name);
        return task
          ? [{ task, state: s.name, ms: Math.ceil(s.until - s.at), memoryMb: TASKS[task].memoryMb }]
          : [];
      });
      const counted: Counted = {
        version,
        status: r.status,
        virtualSeconds: r.virtualSeconds,
        transitions: spans.length,
        statesByType,
        lambda,
        windows: [...windows],
        dynamo: diffDynamo(dynamoCounts, dynamoBefore),
        publishes: env.notifier.notifications.length - published,
      };
      say(
        `${i === 0 ? 'warm-up ' : ''}${version}: ${counted.transitions} transitions, ${lambda.length} invocations, ${windows.length} metric windows, ` +
          `${counted.dynamo.writeUnits} WRU / ${counted.dynamo.readUnits} RRU, ${counted.publishes} publishes, ${(r.realMs / 1000).toFixed(1)} s real`,
      );
      if (i > 0) results.push(counted);
    }
  } finally {
    await env.stop();
    await dynamo.stop();
    await workloads.deleteNamespace(admin, NAMESPACE);
  }

  // The release with the median transition count stands for "a standard release".
  const sorted = [...results].sort((a, b) => a.transitions - b.transitions);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const sample = parseCatalog(sampleCatalog);
  const cwService = Object.entries(sample.services).find(([, s]) => s.metrics.source === 'cloudwatch');
  if (!cwService) throw new Error('the sample catalog has no CloudWatch service to count queries for');
  const [cwName, cwSvc] = cwService;
  const metricsRequested = median.windows.reduce(
    (s, w) => s + queriesPerWindow(cwSvc, { ...w, service: cwName }),
    0,
  );
  const queriesPerFullWindow = queriesPerWindow(cwSvc, {
    service: cwName,
    start: new Date(0),
    end: new Date(600_000),
    canaryVersion: 'v2',
    stableVersion: 'v1',
  });
  const gbSeconds = median.lambda.reduce((s, l) => s + (l.memoryMb / 1024) * (l.ms / 1000), 0);
  const alarms = sampleAlarms()[cwName] ?? [];
  const alarmUsdPerMonth = alarms.reduce((s, a) => s + a.usdPerMonth, 0);
  const releaseHours = median.virtualSeconds / 3600;
  const alarmShareByTime = (alarmUsdPerMonth * releaseHours) / HOURS_PER_MONTH;

  const breakdown = {
    stepFunctions: {
      count: median.transitions,
      unit: 'state transitions',
      usd: median.transitions * PRICES.stepFunctionsStandardPerTransition.usd,
    },
    lambdaRequests: {
      count: median.lambda.length,
      unit: 'invocations',
      usd: median.lambda.length * PRICES.lambdaPerRequest.usd,
    },
    lambdaDuration: {
      count: round(gbSeconds, 3),
      unit: 'GB-seconds (arm64)',
      usd: gbSeconds * PRICES.lambdaArmPerGbSecond.usd,
    },
    getMetricData: {
      count: metricsRequested,
      unit: `metrics requested (${median.windows.length} windows x ${queriesPerFullWindow} queries for ${cwName}; windows under 60 s are not sent)`,
      usd: metricsRequested * PRICES.getMetricDataPerMetric.usd,
    },
    alarms: {
      count: round(releaseHours, 2),
      unit: `alarm-hours of ${alarms.length} alarms (${alarms.reduce((s, a) => s + a.metrics, 0)} alarm metrics, $${round(alarmUsdPerMonth, 2)}/month for ${cwName}) for the release's ${round(releaseHours * 60, 0)} min`,
      usd: alarmShareByTime,
    },
    dynamoDbWrites: {
      count: median.dynamo.writeUnits,
      unit: 'write request units',
      usd: median.dynamo.writeUnits * PRICES.dynamoDbOnDemandPerWriteUnit.usd,
    },
    dynamoDbReads: {
      count: median.dynamo.readUnits,
      unit: 'read request units',
      usd: median.dynamo.readUnits * PRICES.dynamoDbOnDemandPerReadUnit.usd,
    },
    sns: { count: median.publishes, unit: 'publishes', usd: median.publishes * PRICES.snsPerPublish.usd },
  };
  const usdPerRelease = Object.values(breakdown).reduce((s, b) => s + b.usd, 0);
  const extras = {
    xray: {
      count: median.lambda.length,
      unit: 'traces (active tracing; one per Lambda invocation as an upper bound)',
      usd: median.lambda.length * PRICES.xrayPerTrace.usd,
    },
  };
  const readiness = readinessModel(median.transitions);
  const targets: TargetCheck[] = [
    {
      target: 'under 60 state transitions per standard release',
      met: median.transitions < 60,
      detail: `${median.transitions} (pods Ready within one ${RUNBOOK.readinessPollSeconds} s poll per phase, as on the local cluster); ${readiness.overSixtyWhen}`,
    },
    {
      target: 'under one US cent per standard release',
      met: usdPerRelease < 0.01,
      detail: `$${usdPerRelease.toFixed(5)} (alarms prorated by time); with the alarms allocated per release at ${RELEASES_PER_MONTH} releases/month: $${(usdPerRelease - alarmShareByTime + alarmUsdPerMonth / RELEASES_PER_MONTH).toFixed(4)}`,
    },
  ];
  return writeResult('cost', mark, {
    method: [
      `${releases} standard releases of ${SERVICE} (${REPLICAS} replicas, replica-ratio router) with the runbook's default windows (canary 10 min, staging 15 min, production 5 min, watch 60 min) on the virtual clock, after one unrecorded warm-up; the release with the median transition count is priced. Readiness polls wait ${POLL_MS / 1000} s of real time, as the state machine's Wait does in AWS, so the number of polls is the one AWS would see for pods that become Ready as fast as the local cluster's (1 s after scheduling).`,
      'State transitions: StateEntered events counted with onState (every state entered, Choice/Wait/Pass/Succeed included, which is what Step Functions bills; retries would add more, none happened).',
      'Lambda: one request per Task state entered; duration = the time from entering the Task state to entering the next state (measured here, in-process, warm), rounded up to 1 ms, x the memory of the task in statemachine/tasks.ts. Cold starts would add the init duration (coldstart.json) to some invocations.',
      `GetMetricData: the windows the steps asked ports.metrics for (gates' metrics-present lookback, baseline, each validation window), x the queries CloudWatchMetricsSource sends for one window of the sample catalog's ${cwName} service (buildWindowRequest: ${queriesPerFullWindow}); a window shorter than 60 s after minute alignment is not sent.`,
      `Alarms: the stack's alarms of ${cwName} in the synthesized sample template, billed per alarm metric (metric math: per metric in the expression), standard resolution unless a period is under 60 s. Per release: the month's alarm bill x the release's duration (${round(releaseHours * 60, 0)} min of virtual time, the post-deployment watch included) / ${HOURS_PER_MONTH} h, because the alarms watch the service all month, release or not. alarmsIfPerRelease allocates the whole monthly bill to ${RELEASES_PER_MONTH} releases instead.`,
      "DynamoDB: request units as DynamoDB computes them: dynalite returns ConsumedCapacity (1 KB write units, 4 KB read units, strongly consistent reads 1 unit) when a middleware on the store's client sets ReturnConsumedCapacity=TOTAL; Query units from the returned items' sizes; failed conditional writes 1 unit.",
      'SNS: notifications sent (the SNS notifier publishes each once); deliveries to subscribers (email, HTTPS) are billed on top by SNS per delivery.',
    ],
    targets,
    stateTransitions: median.transitions,
    usdPerRelease: round(usdPerRelease, 6),
    breakdown: Object.fromEntries(
      Object.entries(breakdown).map(([k, v]) => [k, { ...v, usd: round(v.usd, 7) }]),
    ),
    alarmsIfPerRelease: {
      releasesPerMonth: RELEASES_PER_MONTH,
      usd: round(alarmUsdPerMonth / RELEASES_PER_MONTH, 5),
      usdPerReleaseThen: round(usdPerRelease - alarmShareByTime + alarmUsdPerMonth / RELEASES_PER_MONTH, 5),
    },
    alarms,
    estimatedExtras: Object.fromEntries(
      Object.entries(extras).map(([k, v]) => [k, { ...v, usd: round(v.usd, 7) }]),
    ),
    prices: PRICES,
    statesByType: median.statesByType,
    lambdaByTask: lambdaByTask(median.lambda),
    dynamoDb: median.dynamo,
    metricWindows: median.windows.map((w) => ({
      seconds: (w.end.getTime() - w.start.getTime()) / 1000,
      canaryVersion: w.canaryVersion,
      stableVersion: w.stableVersion,
    })),
    readinessPolling: readiness,
    releasesMeasured: results.map((r) => ({
      version: r.version,
      transitions: r.transitions,
      invocations: r.lambda.length,
      gbSeconds: round(
        r.lambda.reduce((s, l) => s + (l.memoryMb / 1024) * (l.ms / 1000), 0),
        3,
      ),
      windows: r.windows.length,
      writeUnits: r.dynamo.writeUnits,
      readUnits: r.dynamo.readUnits,
      publishes: r.publishes,
      virtualMinutes: round(r.virtualSeconds / 60, 1),
    })),
  });
}

function diffDynamo(now: DynamoCounts, before: DynamoCounts): DynamoCounts {
  const calls: Record<string, number> = {};
  for (const [k, v] of Object.entries(now.calls)) {
    const d = v - (before.calls[k] ?? 0);
    if (d > 0) calls[k] = d;
  }
  return {
    calls,
    readUnits: now.readUnits - before.readUnits,
    writeUnits: now.writeUnits - before.writeUnits,
    failedConditionalWrites: now.failedConditionalWrites - before.failedConditionalWrites,
  };
}

function lambdaByTask(rows: Counted['lambda']) {
  const out: Record<string, { invocations: number; ms: number; memoryMb: number; gbSeconds: number }> = {};
  for (const l of rows) {
    const o = out[l.task] ?? { invocations: 0, ms: 0, memoryMb: l.memoryMb, gbSeconds: 0 };
    o.invocations++;
    o.ms += l.ms;
    o.gbSeconds = round(o.gbSeconds + (l.memoryMb / 1024) * (l.ms / 1000), 3);
    out[l.task] = o;
  }
  return out;
}

/**
 * How the readiness loop scales with the time a phase's new pods take to become Ready after its
 * Shift task returns, in AWS: each iteration is Wait 5 s -> Check -> Choice (3 transitions), and
 * the Check waits up to RUNBOOK.readinessWaitSeconds inside its Lambda (ports.readinessWait, set by
 * the AWS runtime; test/integration/readiness-wait.test.ts) before answering "waiting". Compared
 * with the loop without that wait (a Check that looks once, as the local runner does). A model on
 * top of the measured count, not a measurement.
 */
function readinessModel(measured: number) {
  const poll = RUNBOOK.readinessPollSeconds;
  const inTask = RUNBOOK.readinessWaitSeconds;
  const perPoll = 3;
  const phases = 3;
  const transitionUsd = PRICES.stepFunctionsStandardPerTransition.usd;
  const gbs = (TASKS.checkReadiness.memoryMb / 1024) * PRICES.lambdaArmPerGbSecond.usd;
  const rows = [5, 15, 30, 60, 120, 300].map((readySeconds) => {
    const onePollEach = Math.max(1, Math.ceil(readySeconds / poll));
    const withoutWait = measured + phases * perPoll * (onePollEach - 1);
    const iterations = Math.max(1, Math.ceil(readySeconds / (poll + inTask)));
    const withWait = measured + phases * perPoll * (iterations - 1);
    // Lambda time spent waiting: until Ready, less the 5 s Waits between the checks.
    const waitedSeconds = Math.max(0, readySeconds - iterations * poll);
    const waitUsd = phases * waitedSeconds * gbs;
    return {
      podsReadyAfterSeconds: readySeconds,
      transitionsWithInTaskWait: withWait,
      usdWithInTaskWait: round(withWait * transitionUsd + waitUsd, 5),
      transitionsCheckingOnce: withoutWait,
      usdCheckingOnce: round(withoutWait * transitionUsd, 5),
    };
  });
  const extraIterations = Math.floor((59 - measured) / perPoll);
  const perPhase = 1 + Math.floor(extraIterations / phases);
  return {
    model: `transitions = measured (${measured}, one iteration per phase) + ${phases} phases x ${perPoll} transitions (Wait, Check, Choice) x (iterations - 1); iterations = ceil(seconds until Ready / (${poll} s Wait + up to ${inTask} s inside the Check))`,
    overSixtyWhen: `in AWS the Check waits up to ${inTask} s for the pods, so 60 is passed only when the phases together need more than ${extraIterations} extra iterations, e.g. pods that take more than ${perPhase * (poll + inTask)} s to become Ready in every phase`,
    rows,
  };
}
