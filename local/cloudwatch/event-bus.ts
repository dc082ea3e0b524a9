/**
 * The local EventBridge default bus: the template's rules (`AWS::Events::Rule`, enabled, with an
 * event pattern) and their Lambda targets. An event goes to every target of every rule whose
 * pattern it matches (./event-pattern.ts). Lambda runs an event target asynchronously: a function
 * error is retried `MaximumRetryAttempts` times (the function's `AWS::Lambda::EventInvokeConfig`,
 * Lambda's default 2 without one), then the event goes to its on-failure destination (a queue),
 * which {@link LocalEventBus.queue} shows. Locally the retries run at once, each awaited.
 */
import { type MetricStat, resolveIntrinsics, type TemplateResources } from './alarm-definition.js';
import { checkPattern, matchesPattern } from './event-pattern.js';
import type { MetricPublisher } from './local-cloudwatch.js';

/** Lambda's retries of a failed asynchronous invocation when nothing else is configured. */
export const LAMBDA_ASYNC_RETRIES_DEFAULT = 2;

/** One rule as the bus uses it. */
export interface LocalRule {
  readonly logicalId: string;
  readonly pattern: Record<string, unknown>;
  /** Logical IDs of the functions it targets. */
  readonly targets: readonly string[];
}

/** One delivery to a target. */
export interface Delivery {
  readonly rule: string;
  readonly target: string;
  readonly attempts: number;
  readonly error: string | null;
}

/** A message in a local queue (an on-failure destination). */
export interface QueuedEvent {
  readonly event: unknown;
  readonly error: string;
  /** When it was queued (the bus's clock). */
  readonly at: Date;
}

/** Options of {@link LocalEventBus}. */
export interface LocalEventBusOptions {
  /** Invokes the function with this logical ID with `event` (as Lambda invokes it). */
  readonly invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>;
  readonly now: () => Date;
}

/** The enabled rules of a template whose targets are all Lambda functions of the template. */
export function rulesOfTemplate(template: TemplateResources): LocalRule[] {
  const rules: LocalRule[] = [];
  const problems: string[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Events::Rule') continue;
    const props = resolveIntrinsics(r.Properties ?? {}, template) as {
      EventPattern?: unknown;
      State?: string;
      Targets?: { Arn?: string }[];
      ScheduleExpression?: string;
      EventBusName?: string;
    };
    if (props.State !== undefined && props.State !== 'ENABLED') continue;
    if (props.ScheduleExpression !== undefined || props.EventBusName !== undefined) {
      problems.push(`${id}: schedules and other event buses are not supported locally`);
      continue;
    }
    try {
      checkPattern(props.EventPattern);
    } catch (error) {
      problems.push(`${id}: ${(error as Error).message}`);
      continue;
    }
    const targets: string[] = [];
    for (const t of props.Targets ?? []) {
      const logicalId =
        typeof t.Arn === 'string' && t.Arn.startsWith('local:') ? t.Arn.slice('local:'.length) : null;
      if (!logicalId || template.Resources[logicalId]?.Type !== 'AWS::Lambda::Function') {
        problems.push(`${id}: target ${JSON.stringify(t.Arn)} is not a Lambda function of the template`);
      } else targets.push(logicalId);
    }
    rules.push({ logicalId: id, pattern: props.EventPattern as Record<string, unknown>, targets });
  }
  if (problems.length > 0) throw new Error(`rules the local EventBridge cannot run: ${problems.join('; ')}`);
  return rules;
}

/** See the module comment. */
export class LocalEventBus {
  private readonly rules: readonly LocalRule[];
  private readonly retries = new Map<string, number>();
  private readonly onFailure = new Map<string, string>();
  private readonly queues = new Map<string, QueuedEvent[]>();
  /** Every delivery so far, oldest first. */
  readonly deliveries: Delivery[] = [];

  constructor(
    template: TemplateResources,
    private readonly opts: LocalEventBusOptions,
  ) {
    this.rules = rulesOfTemplate(template);
    for (const r of Object.values(template.Resources)) {
      if (r.Type !== 'AWS::Lambda::EventInvokeConfig') continue;
      const p = resolveIntrinsics(r.Properties ?? {}, template) as {
        FunctionName?: string;
        MaximumRetryAttempts?: number;
        DestinationConfig?: { OnFailure?: { Destination?: string } };
      };
      if (typeof p.FunctionName !== 'string') continue;
      if (typeof p.MaximumRetryAttempts === 'number')
        this.retries.set(p.FunctionName, p.MaximumRetryAttempts);
      const dest = p.DestinationConfig?.OnFailure?.Destination;
      if (typeof dest === 'string' && dest.startsWith('local:')) {
        this.onFailure.set(p.FunctionName, dest.slice('local:'.length));
      }
    }
  }

  /** The rules, as read from the template. */
  get ruleList(): readonly LocalRule[] {
    return this.rules;
  }

  /** The rules whose pattern `event` matches. */
  matchingRules(event: unknown): LocalRule[] {
    return this.rules.filter((r) => matchesPattern(r.pattern, event));
  }

  /** The events in the queue with this logical ID (an on-failure destination). */
  queue(logicalId: string): readonly QueuedEvent[] {
    return this.queues.get(logicalId) ?? [];
  }

  /** PutEvents of one event: delivered to every matching target, retries and failures included. */
  async put(event: unknown): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for (const rule of this.matchingRules(event)) {
      for (const target of rule.targets) {
        const tries = 1 + (this.retries.get(target) ?? LAMBDA_ASYNC_RETRIES_DEFAULT);
        let error: string | null = null;
        let attempts = 0;
        for (; attempts < tries; ) {
          attempts++;
          try {
            // A JSON copy per attempt, as each invocation gets the event serialized.
            await this.opts.invoke(target, JSON.parse(JSON.stringify(event)));
            error = null;
            break;
          } catch (e) {
            error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
          }
        }
        if (error !== null) {
          const queue = this.onFailure.get(target);
          if (queue) {
            const list = this.queues.get(queue) ?? [];
            list.push({ event, error, at: this.opts.now() });
            this.queues.set(queue, list);
          }
        }
        const d = { rule: rule.logicalId, target, attempts, error };
        this.deliveries.push(d);
        out.push(d);
      }
    }
    return out;
  }
}

/**
 * The local queues' `AWS/SQS ApproximateNumberOfMessagesVisible` (dimension `QueueName`: the
 * queue's logical ID, as local runs name it): the messages queued before the period's end (nothing
 * consumes them locally). Read as Maximum, Minimum or Average.
 */
export class QueueMetrics implements MetricPublisher {
  constructor(private readonly bus: LocalEventBus) {}

  publishes(metric: MetricStat): boolean {
    const dims = Object.keys(metric.dimensions);
    return (
      metric.namespace === 'AWS/SQS' &&
      metric.metricName === 'ApproximateNumberOfMessagesVisible' &&
      dims.length === 1 &&
      dims[0] === 'QueueName'
    );
  }

  problem(metric: MetricStat): string | null {
    return ['Maximum', 'Minimum', 'Average'].includes(metric.stat)
      ? null
      : `AWS/SQS ApproximateNumberOfMessagesVisible ${metric.stat}: read it as Maximum, Minimum or Average locally`;
  }

  datapoint(metric: MetricStat, start: Date): number {
    const end = start.getTime() + metric.period * 1000;
    return this.bus.queue(metric.dimensions.QueueName ?? '').filter((m) => m.at.getTime() < end).length;
  }
}
