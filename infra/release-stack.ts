import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { Catalog } from '../functions/domain/config.js';
import type { AlarmRollbackRule } from './constructs/alarm-rollback-rule.js';
import type { AnswerEndpoint } from './constructs/answer-endpoint.js';
import type { DeploymentTable } from './constructs/deployment-table.js';
import type { FunctionCodeSource } from './constructs/function-code.js';
import type { ReleasePipeline } from './constructs/release-pipeline.js';
import type { RollbackTriggers, ServiceAlarms } from './constructs/service-alarms.js';
import type { TaskFunctions } from './constructs/task-functions.js';
import type { ReleaseNetwork, TaskNetwork } from './constructs/task-network.js';
import { ReleaseRunbook } from './release-runbook.js';

export { FUNCTION_ENV, syntheticServices } from './release-runbook.js';

/** Props of {@link ReleaseStack}. */
export interface ReleaseStackProps extends StackProps {
  /** The parsed service catalog (`parseCatalog` of tps.config.ts). */
  readonly catalog: Catalog;
  /** Where the functions' code comes from. @default the repository's sources (infra/constructs/function-code.ts) */
  readonly code?: FunctionCodeSource;
  /** Retention of the functions' and state machines' log groups. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** Rollback triggers of the alarms. @default RUNBOOK.rollbackTriggers */
  readonly triggers?: RollbackTriggers;
  /**
   * How the functions that reach the cluster (CLUSTER_TASKS) get to its API (ReleaseRunbookProps.network).
   * @default { endpointAccess: 'public' }: every function outside any VPC
   */
  readonly network?: ReleaseNetwork;
}

/**
 * This repository's stack (infra/app.ts): one {@link ReleaseRunbook} of the catalog in
 * tps.config.ts, and nothing else. Its fields are the runbook's.
 *
 * The runbook's construct ID is `Default`, which CDK leaves out of logical IDs: the resources keep
 * the logical IDs they had when the stack built them itself, so deploying this version over an
 * older one replaces nothing.
 */
export class ReleaseStack extends Stack {
  /** The runbook this stack holds. */
  readonly runbook: ReleaseRunbook;

  constructor(scope: Construct, id: string, props: ReleaseStackProps) {
    super(scope, id, props);
    this.runbook = new ReleaseRunbook(this, 'Default', {
      catalog: props.catalog,
      ...(props.code ? { code: props.code } : {}),
      ...(props.network ? { network: props.network } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.triggers ? { triggers: props.triggers } : {}),
    });
  }

  /** The release state machine of each service. */
  get pipelines(): Readonly<Record<string, ReleasePipeline>> {
    return this.runbook.pipelines;
  }
  get functions(): TaskFunctions {
    return this.runbook.functions;
  }
  get table(): DeploymentTable {
    return this.runbook.table;
  }
  get topic(): sns.ITopic {
    return this.runbook.topic;
  }
  get alarms(): Readonly<Record<string, ServiceAlarms>> {
    return this.runbook.alarms;
  }
  get alarmRule(): AlarmRollbackRule {
    return this.runbook.alarmRule;
  }
  /** The verified answer endpoint (function URL, AWS_IAM): the only way a person answers a release. */
  get answerEndpoint(): AnswerEndpoint {
    return this.runbook.answerEndpoint;
  }
  /** The cluster tasks' VPC placement, security group and VPC endpoints (none by default). */
  get network(): TaskNetwork {
    return this.runbook.network;
  }
}
