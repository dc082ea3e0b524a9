import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KubeConfig, Middleware } from '@kubernetes/client-node';
import { createTableIfMissing, DynamoDbDeploymentStore } from '../functions/adapters/aws/dynamodb-store.js';
import { CollectingNotifier } from '../functions/adapters/collecting-notifier.js';
import {
  createKubeClients,
  type KubeClients,
  kubeConfigFromFile,
  type RetryPolicy,
} from '../functions/adapters/kubernetes/client.js';
import type { RenewableKubeConfig } from '../functions/adapters/kubernetes/credential.js';
import { kubeWorkloads } from '../functions/adapters/kubernetes/workloads-factory.js';
import { EmfReleaseTelemetry } from '../functions/adapters/powertools/emf-telemetry.js';
import { createFunctionLogger } from '../functions/adapters/powertools/function-logger.js';
import { type LineSink, stdoutLines } from '../functions/adapters/powertools/output.js';
import { loadProfile } from '../functions/adapters/synthetic/index.js';
import type { TrafficProfile } from '../functions/adapters/synthetic/profile.js';
import { SyntheticMetricsSource } from '../functions/adapters/synthetic/source.js';
import { composePorts } from '../functions/compose.js';
import { CLUSTER_ACCESS, type ClusterAccess, type TaskKey } from '../functions/contract/tasks.js';
import {
  type Catalog,
  type CatalogInput,
  parseCatalog,
  type ServiceConfig,
} from '../functions/domain/config.js';
import { ERROR_NAMES, StoreUnavailableError } from '../functions/domain/errors.js';
import { imageVersion } from '../functions/domain/input.js';
import { personRollbackEvent } from '../functions/domain/person-rollback.js';
import type { DeploymentRecord } from '../functions/domain/record.js';
import type { ReleaseTarget, RollbackPlan } from '../functions/ports/cluster.js';
import type { RollbackRequests } from '../functions/ports/executions.js';
import type { ReadinessWait, ReleasePorts } from '../functions/ports/release.js';
import type { TrafficRouter } from '../functions/ports/router.js';
import type { DeploymentStore } from '../functions/ports/store.js';
import type { TaskTokens } from '../functions/ports/task-tokens.js';
import { type AnswerRequest, type AnswerResult, answerAsVerified } from '../functions/release/answer.js';
import { type SteerRequest, type SteerResult, steerAsVerified } from '../functions/release/steer.js';
import type { StoppedOutcome } from '../functions/release/stopped.js';
import { stateMachineName } from '../infra/names.js';
import { LocalAlarmThresholds } from './alarm-thresholds.js';
import { LOCAL_API_REGION, type LocalApiState } from './api-state.js';
import { alarmsOfTemplate } from './cloudwatch/alarm-definition.js';
import { LocalEventBus, QueueMetrics } from './cloudwatch/event-bus.js';
import { LocalCloudWatch, publishedBy } from './cloudwatch/local-cloudwatch.js';
import {
  metricNamesOf,
  publishedToCloudWatch,
  SyntheticMetricData,
  type TrafficTimeline,
} from './cloudwatch/synthetic-metrics.js';
import { type LocalDynamo, startLocalDynamo } from './dynalite.js';
import { ExecutionHistories } from './execution-history.js';
import { LocalFunctions } from './invocation.js';
import { LocalAlarmStates, LocalDatabaseSnapshots, LocalPipelineRecords } from './runbook-ports.js';
import {
  executionArnOf,
  type LocalExecutionResult,
  LocalExecutor,
  type LocalRunOptions,
  LocalTaskTokenError,
  localStateMachineArn,
  type SynthesizedMachine,
} from './runner.js';
import { type LocalSfnApi, type LocalStateMachine, serveSfnApi } from './sfn-api.js';
import { extractAsl, functionArnFor, functionTasks, synthTemplate } from './synth.js';
import { VirtualClock } from './virtual-clock.js';

/** Another way to the table and the cluster for {@link LocalEnvironment.portsWith}. */
export interface PortsOptions {
  /** A DynamoDB client for the same table (e.g. through a proxy that can fail). */
  readonly dynamoClient?: DynamoDBClient;
  /** Middleware on every Kubernetes API request. */
  readonly kubeMiddleware?: readonly Middleware[];
  /**
   * Another credential for the same cluster, renewable after a 401 (fault tests: tokens the API
   * server stops accepting). @default the environment's write identity
   */
  readonly kubeAccess?: RenewableKubeConfig | KubeConfig;
  /** The in-task readiness wait the AWS runtime uses (absent locally: one check per call). */
  readonly readinessWait?: ReadinessWait;
}

export interface LocalEnvironmentOptions {
  /** The service catalog (as in tps.config.ts). */
  readonly catalog: CatalogInput;
  /**
   * kubeconfig of each cluster access (functions/contract/tasks.ts, CLUSTER_ACCESS): every cluster
   * task acts as the identity of its access, as each function does on EKS through its own IAM role
   * and Kubernetes group; the other tasks get no cluster access. On the local control plane these
   * are the app's identities from local/cluster/identities.ts (`mintFunctionIdentities`).
   */
  readonly kubeconfigs: Readonly<Record<ClusterAccess, string>>;
  /** Synthetic traffic per service; default: the profile named in the service's metrics config. */
  readonly profiles?: Readonly<Record<string, TrafficProfile>>;
  /** Retry policy of the Kubernetes client (tests shorten it). */
  readonly kubeRetry?: Partial<RetryPolicy>;
  /** Name of the deployments table. @default tps-deploy-local */
  readonly tableName?: string;
  /** Middleware on every Kubernetes API request of the functions (fault tests log mutations). */
  readonly kubeMiddleware?: readonly Middleware[];
  /**
   * More middleware on the Kubernetes API requests of one task's function (after `kubeMiddleware`):
   * tests record what each task really sends.
   */
  readonly taskKubeMiddleware?: (task: TaskKey, access: ClusterAccess) => readonly Middleware[];
  /** An already running DynamoDB-compatible endpoint to use instead of starting dynalite. */
  readonly dynamo?: LocalDynamo;
  /**
   * Where the functions' output goes: their JSON log lines and the release metrics' EMF documents,
   * the lines Lambda would write to CloudWatch Logs. @default standard output, as in Lambda
   */
  readonly functionOutput?: LineSink;
}

/**
 * Everything a local run needs around the real step code: the synthesized state machines, the
 * local cluster, dynalite, synthetic traffic, a collecting notifier and one virtual clock.
 */
export class LocalEnvironment {
  readonly executors = new Map<string, LocalExecutor>();
  /** Every execution's history (Step Functions' GetExecutionHistory), kept for the local API. */
  readonly histories = new ExecutionHistories();
  /** The state machines, one per service, as the local Step Functions API lists them. */
  readonly stateMachines: LocalStateMachine[] = [];
  /** Executions started through the local API, until they end. */
  private readonly apiRuns = new Set<Promise<unknown>>();
  private api: LocalSfnApi | null = null;
  /** Execution status events whose cleanup failed (Lambda would retry them); see redeliver(). */
  readonly undelivered: { event: unknown; error: string }[] = [];

  private constructor(
    readonly catalog: Catalog,
    /**
     * Ports with the write identity's cluster access, for tests and tools that run a step directly;
     * the executors give each task its own ({@link portsFor}).
     */
    readonly ports: ReleasePorts,
    readonly store: DynamoDbDeploymentStore,
    readonly notifier: CollectingNotifier,
    readonly clock: VirtualClock,
    readonly dynamo: LocalDynamo,
    readonly tableName: string,
    private readonly ownsDynamo: boolean,
    private readonly profiles: Map<string, TrafficProfile>,
    /** The latency alarms' thresholds the release steps set and restore (ports.alarmThresholds). */
    readonly alarmThresholds: LocalAlarmThresholds,
    /** The alarms' states the monitoring gate reads (all OK at start; tests set them). */
    readonly alarmStates: LocalAlarmStates,
    /** The snapshots migrations took (local stand-in for RDS). */
    readonly snapshots: LocalDatabaseSnapshots,
    /** The pipeline action executions the tests-provenance gate finds (local stand-in for CodePipeline; tests add them). */
    readonly pipelines: LocalPipelineRecords,
    /** The task functions, invoked as Lambda invokes them (instrumented, logged). */
    readonly functions: LocalFunctions,
    /**
     * The ports `task`'s function gets: its cluster access's identity for a cluster task, no
     * cluster access for the others (the executors invoke every task with these).
     */
    readonly portsFor: (task: TaskKey) => ReleasePorts,
    /** The catalog as given (the state file of the local API carries it to the CLI). */
    private readonly catalogInput: CatalogInput,
    /**
     * The stack's CloudWatch alarms, evaluated every virtual minute against the run's traffic; each
     * state change goes as the documented event through {@link eventBus} (local/cloudwatch/).
     */
    readonly cloudwatch: LocalCloudWatch,
    /** The stack's EventBridge rules and their function targets (the alarm -> rollback rule). */
    readonly eventBus: LocalEventBus,
  ) {}

  /**
   * The local SendTaskSuccess/SendTaskFailure: answers a waiting approval or hold of any local
   * execution. Throws an error named `TaskDoesNotExist` for a token nobody waits for.
   */
  readonly taskTokens: TaskTokens = {
    succeed: async (token, output) => this.executorOfToken(token).sendTaskSuccess(token, output),
    fail: async (token, error, cause) => this.executorOfToken(token).sendTaskFailure(token, error, cause),
  };

  private executorOfToken(token: string): LocalExecutor {
    for (const ex of this.executors.values()) if (ex.hasTaskToken(token)) return ex;
    throw new LocalTaskTokenError(
      ERROR_NAMES.taskDoesNotExist,
      `no local execution waits for task token ${token}`,
    );
  }

  /**
   * A person answers a waiting release (approve, reject, promote, abort) through the same step as
   * the answer endpoint (functions/release/answer.ts), as `principal`: locally no SigV4 signature
   * is checked, so the ARN given stands for the identity Lambda would verify; the catalog's
   * `duties`, the requester rule and the token kept apart from the record apply as in AWS.
   */
  answer(request: AnswerRequest, principal: string): Promise<AnswerResult> {
    return answerAsVerified(this.ports, { arn: principal, accountId: null, callerId: 'local' }, request);
  }

  /**
   * A person holds, withdraws a hold, aborts, rolls back or unlocks through the same step as the
   * answer endpoint (functions/release/steer.ts), as `principal` (the local stand-in for the ARN
   * Lambda would verify). A rollback is handed to the local rollback function, as the endpoint's
   * asynchronous Invoke hands it in AWS; a failed one waits in `undelivered`.
   */
  steer(request: SteerRequest, principal: string): Promise<SteerResult> {
    return steerAsVerified(
      { ...this.ports, rollbackRequests: this.rollbackRequests },
      { arn: principal, accountId: null, callerId: 'local' },
      request,
    );
  }

  /** The local Invoke of the rollback function with a person's rollback (awaited here). */
  readonly rollbackRequests: RollbackRequests = {
    request: async (r) => {
      const event = personRollbackEvent(r);
      try {
        await this.functions.invoke('executionStopped', this.portsFor('executionStopped'), event);
      } catch (error) {
        this.undelivered.push({ event, error: String(error) });
      }
    },
  };

  /** Replaces the synthetic traffic of a service for the next runs (scenarios). */
  setProfile(service: string, profile: TrafficProfile): void {
    this.profiles.set(service, profile);
  }

  static async start(opts: LocalEnvironmentOptions): Promise<LocalEnvironment> {
    const catalog = parseCatalog(opts.catalog);
    const dynamo = opts.dynamo ?? (await startLocalDynamo());
    const tableName = opts.tableName ?? 'tps-deploy-local';
    await createTableIfMissing(dynamo.client, tableName);
    const store = new DynamoDbDeploymentStore({ client: dynamo.client, tableName });
    const notifier = new CollectingNotifier();
    const clock = new VirtualClock();
    const kcOf: Record<ClusterAccess, ReturnType<typeof kubeConfigFromFile>> = {
      read: kubeConfigFromFile(opts.kubeconfigs.read),
      write: kubeConfigFromFile(opts.kubeconfigs.write),
    };
    const clientsOf = (access: ClusterAccess, extra: readonly Middleware[] = []) =>
      createKubeClients(kcOf[access], opts.kubeRetry ?? {}, undefined, [
        ...(opts.kubeMiddleware ?? []),
        ...extra,
      ]);
    let env: LocalEnvironment | undefined;
    const profiles = new Map<string, TrafficProfile>(Object.entries(opts.profiles ?? {}));
    // The template first: the functions are named after its resources, and the alarms come from
    // it. Synthetic services are synthesized as if their traffic were published to CloudWatch, so
    // the template has the alarms a service with CloudWatch metrics gets (the ASL is the same).
    const template = synthTemplate({ catalog: publishedToCloudWatch(opts.catalog) });
    const tasks = functionTasks(template);
    // The canary's real weight over (virtual) time, per service: what the synthetic traffic splits by.
    const weights = new Map<string, { at: number; weight: number }[]>();
    const recordWeight = (service: string, weight: number) => {
      const list = weights.get(service) ?? [];
      list.push({ at: clock.now().getTime(), weight });
      weights.set(service, list);
    };
    const profileOf = (name: string, svc: ServiceConfig) =>
      profiles.get(name) ?? loadProfile(svc.metrics.source === 'synthetic' ? svc.metrics.profile : 'healthy');
    // Each release's traffic for the alarms: from its start, its profile, with the weights the
    // release really set (none yet: all traffic on the stable version). Before the first release,
    // the service's profile from the environment's start.
    const envStart = clock.now().getTime();
    let timelineIds = 0;
    type Timeline = {
      id: number;
      deploymentId: string | null;
      start: number;
      profile: TrafficProfile;
      version: string | null;
      previousVersion: string | null;
      source?: SyntheticMetricsSource;
    };
    const timelines = new Map<string, Timeline[]>();
    const timelinesOf = (name: string): Timeline[] => {
      let list = timelines.get(name);
      if (!list) {
        const svc = catalog.services[name];
        if (!svc) throw new Error(`no service ${name} in the catalog`);
        list = [
          {
            id: ++timelineIds,
            deploymentId: null,
            start: envStart,
            profile: profileOf(name, svc),
            version: null,
            previousVersion: null,
          },
        ];
        timelines.set(name, list);
      }
      return list;
    };
    const timelineAt = (name: string, at: Date): TrafficTimeline => {
      const list = timelinesOf(name);
      const tl = [...list].reverse().find((t) => t.start <= at.getTime()) ?? list[0]!;
      if (!tl.source) {
        const start = tl.start;
        tl.source = new SyntheticMetricsSource({
          profile: tl.profile,
          deploymentStart: new Date(start),
          weightAt: (d) => {
            let w = 0;
            for (const e of weights.get(name) ?? []) if (e.at >= start && e.at <= d.getTime()) w = e.weight;
            return w;
          },
        });
      }
      const source = tl.source;
      return {
        id: tl.id,
        traffic: (a, b, of) => source.traffic(a, b, of),
        version: tl.version,
        previousVersion: tl.previousVersion,
      };
    };
    // A release's first shift starts its timeline (its start and versions from the record it wrote).
    const noteRelease = async (
      name: string,
      svc: ServiceConfig,
      target: ReleaseTarget,
      plan: RollbackPlan,
    ) => {
      const list = timelinesOf(name);
      if (list.some((t) => t.deploymentId === target.deploymentId)) return;
      const record = await store.get(name, target.deploymentId).catch(() => null);
      const previous = plan.images[svc.containers[0] ?? ''] ?? record?.previousImage ?? null;
      list.push({
        id: ++timelineIds,
        deploymentId: target.deploymentId,
        start: record ? Date.parse(record.startedAt) : clock.now().getTime(),
        profile: profileOf(name, svc),
        version: target.version,
        previousVersion: previous ? imageVersion(previous) : null,
      });
      list.sort((a, b) => a.start - b.start);
    };
    // The rules' targets are the task functions (defined below; invoked only once a run goes on).
    const bus = new LocalEventBus(template, {
      invoke: (logicalId, event) => {
        const task = tasks[logicalId];
        if (!task) throw new Error(`function ${logicalId} is not a task function of the template`);
        return functions.invoke(task, portsFor(task), event);
      },
      now: () => clock.now(),
    });
    const cloudwatch = new LocalCloudWatch(alarmsOfTemplate(template), {
      data: publishedBy([new SyntheticMetricData(metricNamesOf(catalog), timelineAt), new QueueMetrics(bus)]),
      send: async (event) => {
        await bus.put(event);
      },
      start: clock.now(),
      // The stack was deployed before the run: its alarms are OK, as LocalAlarmStates starts them.
      initialState: 'OK',
    });
    clock.listen(cloudwatch);
    const alarmThresholds = new LocalAlarmThresholds(catalog, undefined, cloudwatch);
    const alarmStates = new LocalAlarmStates(catalog, clock);
    // What DescribeAlarms would answer after each evaluation that changed a state.
    cloudwatch.onStateChange((c) => alarmStates.set(c.alarm, c.to, c.reason));
    const snapshots = new LocalDatabaseSnapshots(clock);
    const pipelines = new LocalPipelineRecords();
    // The functions' output, as in Lambda: the Powertools logger and the release metrics (EMF).
    const output = opts.functionOutput ?? stdoutLines;
    const telemetry = new EmfReleaseTelemetry(output);
    const serviceName = (svc: ServiceConfig) =>
      Object.entries(catalog.services).find(([, s]) => s === svc)?.[0] ?? '';
    const wrapRouter = (router: TrafficRouter, svc: ServiceConfig): TrafficRouter => {
      const name = serviceName(svc);
      return {
        type: router.type,
        status: (t, p) => router.status(t, p),
        async setWeight(t, p, w) {
          await noteRelease(name, svc, t, p);
          const r = await router.setWeight(t, p, w);
          recordWeight(name, r.actualWeight ?? w);
          return r;
        },
        async finalize(t, p) {
          const r = await router.finalize(t, p);
          recordWeight(name, 100);
          return r;
        },
        async rollback(t, p) {
          const r = await router.rollback(t, p);
          recordWeight(name, 0);
          return r;
        },
      };
    };
    const metrics = (svc: ServiceConfig, deploymentStart: Date) => {
      const name = serviceName(svc);
      const profile = profileOf(name, svc);
      const weightAt = (at: Date) => {
        const list = (weights.get(name) ?? []).filter((e) => e.at >= deploymentStart.getTime());
        let w: number | null = null;
        for (const e of list) if (e.at <= at.getTime()) w = e.weight;
        return w;
      };
      return new SyntheticMetricsSource({ profile, deploymentStart, weightAt });
    };
    const makePorts = (
      store: DeploymentStore,
      clients: KubeClients | null,
      readinessWait?: ReadinessWait,
    ): ReleasePorts =>
      composePorts({
        catalog,
        store,
        notifier,
        clock,
        // No clients: the ports of a task with no cluster access, whose steps fail NotConfigured there.
        ...(clients ? { workloads: async (svc) => kubeWorkloads(svc, clients, { clock, wrapRouter }) } : {}),
        metrics,
        telemetry,
        ...(readinessWait ? { readinessWait } : {}),
        overrides: {
          executions: {
            stop: async (executionArn, cause) => {
              for (const ex of env?.executors.values() ?? []) ex.stop(executionArn, null, cause);
            },
            status: async (executionArn) => {
              for (const ex of env?.executors.values() ?? []) {
                const s = ex.statusOf(executionArn);
                if (s !== 'UNKNOWN') return s;
              }
              return 'UNKNOWN';
            },
          },
          alarmThresholds,
          alarmStates,
          snapshots,
          pipelines,
          taskTokens: {
            succeed: (token, output) => env!.taskTokens.succeed(token, output),
            fail: (token, error, cause) => env!.taskTokens.fail(token, error, cause),
          },
        },
      });
    // The write identity's ports: what tests use to drive a step directly (env.ports).
    const ports = makePorts(store, clientsOf('write'));
    // Each task's ports: a cluster task's clients act as the identity of its access (with the
    // task's own middleware), every other task gets none.
    const taskPorts = new Map<TaskKey, ReleasePorts>();
    const noCluster = makePorts(store, null);
    const portsFor = (task: TaskKey): ReleasePorts => {
      const access = CLUSTER_ACCESS[task];
      if (!access) return noCluster;
      let p = taskPorts.get(task);
      if (!p) {
        p = makePorts(store, clientsOf(access, opts.taskKubeMiddleware?.(task, access) ?? []));
        taskPorts.set(task, p);
      }
      return p;
    };
    const resourceTasks = Object.fromEntries(
      Object.entries(tasks).map(([id, task]) => [functionArnFor(id), task]),
    );
    const functions = new LocalFunctions(
      createFunctionLogger({ appName: catalog.appName, sink: output }),
      resourceTasks,
    );
    env = new LocalEnvironment(
      catalog,
      ports,
      store,
      notifier,
      clock,
      dynamo,
      tableName,
      opts.dynamo === undefined,
      profiles,
      alarmThresholds,
      alarmStates,
      snapshots,
      pipelines,
      functions,
      portsFor,
      opts.catalog,
      cloudwatch,
      bus,
    );
    env.portsFactory = (o) =>
      makePorts(
        new DynamoDbDeploymentStore({ client: o.dynamoClient ?? dynamo.client, tableName }),
        createKubeClients(
          o.kubeAccess ?? kcOf.write,
          opts.kubeRetry ?? {},
          undefined,
          o.kubeMiddleware ?? [],
        ),
        o.readinessWait,
      );
    const created = new Date();
    for (const service of Object.keys(catalog.services)) {
      const machine: SynthesizedMachine = {
        asl: extractAsl(template, service) as SynthesizedMachine['asl'],
        resourceTasks,
      };
      const name = stateMachineName(catalog.appName, service);
      const stateMachineArn = localStateMachineArn(name);
      env.stateMachines.push({
        arn: stateMachineArn,
        name,
        service,
        definition: JSON.stringify(machine.asl),
        creationDate: created,
      });
      env.executors.set(
        service,
        new LocalExecutor(machine, portsFor, clock, functions, { stateMachineArn, histories: env.histories }),
      );
    }
    return env;
  }

  /** The ARN of `service`'s execution named `executionName` (the deployment id). */
  executionArn(service: string, executionName: string): string {
    const machine = this.stateMachines.find((m) => m.service === service);
    if (!machine) throw new Error(`no state machine for service ${service}`);
    return executionArnOf(machine.arn, executionName);
  }

  /**
   * Serves the local Step Functions API (local/sfn-api.ts) on a free loopback port, over this
   * environment's state machines and executions: the CLI's `--local` points its SDK clients at it
   * and at this environment's DynamoDB. Executions started through it run with `runOptions`.
   * Returns what the state file holds (local/api-state.ts); {@link stop} closes it.
   */
  async serve(opts: { runOptions?: Omit<LocalRunOptions, 'executionName'> } = {}): Promise<LocalApiState> {
    this.api ??= await serveSfnApi({
      stateMachines: this.stateMachines,
      histories: this.histories,
      start: (machine, name, input) => {
        const run = this.runOn(machine.service, input, { ...opts.runOptions, executionName: name });
        // Kept until it ends, so stop() and `tps-deploy local` can wait for it; its end is in its history.
        const kept: Promise<unknown> = run.catch(() => undefined).finally(() => this.apiRuns.delete(kept));
        this.apiRuns.add(kept);
      },
      stop: (executionArn, error, cause) =>
        [...this.executors.values()].some((ex) => ex.stop(executionArn, error, cause)),
    });
    return {
      version: 1,
      pid: process.pid,
      region: LOCAL_API_REGION,
      endpoints: { stepFunctions: this.api.endpoint, dynamodb: this.dynamo.endpoint },
      tableName: this.tableName,
      stateMachines: Object.fromEntries(this.stateMachines.map((m) => [m.service, m.arn])),
      catalog: this.catalogInput,
    };
  }

  /** The local API's traffic: requests answered and when the last one came (null when not served). */
  apiActivity(): { requests: number; lastRequestAt: number | null } | null {
    return this.api ? { requests: this.api.requests, lastRequestAt: this.api.lastRequestAt } : null;
  }

  /** Waits for the executions started through the local API to end. */
  async apiRunsEnded(): Promise<void> {
    while (this.apiRuns.size > 0) await Promise.all([...this.apiRuns]);
  }

  /** How many executions started through the local API still run. */
  get apiRunsRunning(): number {
    return this.apiRuns.size;
  }

  /** Runs one release of `input.service` through its synthesized state machine. */
  run(input: { service: string } & Record<string, unknown>, opts?: LocalRunOptions) {
    return this.runOn(input.service, input, opts);
  }

  /** Runs one execution of `service`'s state machine with `input` (StartExecution's input, unchecked). */
  private async runOn(service: string, input: Record<string, unknown>, opts?: LocalRunOptions) {
    const ex = this.executors.get(service);
    if (!ex) throw new Error(`no state machine for service ${service}`);
    const result: LocalExecutionResult = await ex.run(input, opts);
    if (result.status === 'ABORTED' || result.status === 'FAILED') {
      // What the ExecutionStopped EventBridge rule does in AWS: clean up a release that ended with
      // its record still RUNNING (stopped, or its "Roll Back" failed). A delivery that fails waits in
      // `undelivered` for redeliver(), as Lambda retries a failed asynchronous invocation.
      const event = {
        'detail-type': 'Step Functions Execution Status Change',
        source: 'aws.states',
        detail: {
          executionArn: result.executionArn,
          stateMachineArn: this.stateMachines.find((m) => m.service === service)?.arn ?? null,
          name: result.executionArn.split(':').at(-1),
          status: result.status,
          startDate: result.executionStartTime ? Date.parse(result.executionStartTime) : null,
          cause: result.status === 'ABORTED' ? 'stopped locally' : (result.error ?? null),
        },
      };
      try {
        await this.functions.invoke('executionStopped', this.portsFor('executionStopped'), event);
      } catch (error) {
        this.undelivered.push({ event, error: String(error) });
      }
    }
    const name = result.executionArn.split(':').at(-1)!;
    // The table may be unreachable (fault tests): the record is then unknown, not an error of the run.
    const record: DeploymentRecord | null = await this.store.get(service, name).catch((error: unknown) => {
      if (error instanceof StoreUnavailableError) return null;
      throw error;
    });
    return { ...result, record };
  }

  private portsFactory: ((o: PortsOptions) => ReleasePorts) | null = null;

  /**
   * Ports like {@link ports} (same catalog, clock, notifier, traffic) over a different path to the
   * table and the cluster: fault tests run a step through a table proxy or with request middleware.
   */
  portsWith(o: PortsOptions): ReleasePorts {
    if (!this.portsFactory) throw new Error('LocalEnvironment is not started');
    return this.portsFactory(o);
  }

  /** Delivers the failed execution status events again, as Lambda's asynchronous retries do. */
  async redeliver(): Promise<StoppedOutcome[]> {
    const pending = this.undelivered.splice(0);
    const outcomes: StoppedOutcome[] = [];
    for (const p of pending) {
      try {
        outcomes.push(
          (await this.functions.invoke(
            'executionStopped',
            this.portsFor('executionStopped'),
            p.event,
          )) as StoppedOutcome,
        );
      } catch (error) {
        this.undelivered.push({ event: p.event, error: String(error) });
      }
    }
    return outcomes;
  }

  async stop(): Promise<void> {
    await this.api?.close();
    this.api = null;
    if (this.ownsDynamo) await this.dynamo.stop();
  }
}
