import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  DATA_KEY_ACTIONS,
  type Grant,
  type GrantTarget,
  taskGrants,
} from '../../functions/contract/permissions.js';
import { TASK_KEYS, type TaskKey } from '../../functions/contract/tasks.js';
import { pascalCase } from '../../functions/domain/text.js';
import { acknowledgeNag, nagResource } from '../nag.js';

/** Props of {@link TaskPermissions}. */
export interface TaskPermissionsProps {
  /** The execution role of each task's function. */
  readonly roles: Readonly<Record<TaskKey, iam.IRole>>;
  /**
   * The ARNs of each grant target (functions/contract/permissions.ts). A target with no ARNs (no
   * databases in the catalog) is granted to nobody.
   */
  readonly targets: Readonly<Record<GrantTarget, readonly string[]>>;
  /** The key that encrypts the table and the topic: granted with the targets it encrypts. */
  readonly dataKey: kms.IKey;
  /** Why each wildcard ARN of the targets cannot be narrower (cdk-nag acknowledgement), by ARN. */
  readonly wildcardReasons: Readonly<Record<string, string>>;
  /**
   * The key of the notifications topic when it is not `dataKey` (a topic brought to the
   * ReleaseRunbook with its own key); `null` for a topic without one.
   * @default dataKey
   */
  readonly topicKey?: kms.IKey | null;
}

/**
 * Grants each task's role exactly what functions/contract/permissions.ts lists for the task: one
 * statement per grant target (Sid = the target), the actions its port methods send, on that
 * target's ARNs; and the data key's actions for the targets the key encrypts. Nothing is granted
 * to all functions at once.
 */
export class TaskPermissions extends Construct {
  constructor(scope: Construct, id: string, props: TaskPermissionsProps) {
    super(scope, id);
    const unexplained = Object.values(props.targets)
      .flat()
      .filter((arn) => arn !== '*' && /\*/.test(arn) && props.wildcardReasons[arn] === undefined);
    if (unexplained.length > 0) {
      throw new Error(
        `TaskPermissions: wildcard ARNs without a reason: ${unexplained.join(', ')}. Add each to wildcardReasons with why it cannot be narrower.`,
      );
    }
    for (const task of TASK_KEYS) grantExactly(this, props.roles[task], taskGrants(task), props);
  }
}

/**
 * Grants `role` exactly `grants`: one statement per grant target (Sid = the target), the actions,
 * on that target's ARNs; and the data key's actions for the targets the key encrypts. The task
 * functions' roles and the answer endpoint's are granted by this one function.
 */
export function grantExactly(
  scope: Construct,
  role: iam.IRole,
  grants: readonly Grant[],
  props: Pick<TaskPermissionsProps, 'targets' | 'dataKey' | 'wildcardReasons' | 'topicKey'>,
): void {
  const keyActions = new Set<string>();
  const topicKeyActions = new Set<string>();
  const topicKey = props.topicKey === undefined ? props.dataKey : props.topicKey;
  for (const grant of grants) {
    const resources = props.targets[grant.on];
    if (resources.length === 0) continue;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: pascalCase(grant.on),
        actions: [...grant.actions],
        resources: [...resources],
      }),
    );
    const actions =
      grant.on === 'notificationsTopic' && topicKey !== props.dataKey ? topicKeyActions : keyActions;
    for (const a of DATA_KEY_ACTIONS[grant.on] ?? []) actions.add(a);
    for (const arn of resources.filter((r) => r !== '*' && r.includes('*'))) {
      acknowledgeNag(role, 'AwsSolutions-IAM5', nagResource(scope, arn), props.wildcardReasons[arn]!);
    }
  }
  if (topicKey && topicKeyActions.size > 0) topicKey.grant(role, ...[...topicKeyActions].sort());
  if (keyActions.size === 0 && topicKeyActions.size === 0) return;
  if (keyActions.size > 0) props.dataKey.grant(role, ...[...keyActions].sort());
  for (const action of [...new Set([...keyActions, ...topicKeyActions])].filter((a) => a.endsWith('*'))) {
    acknowledgeNag(
      role,
      'AwsSolutions-IAM5',
      `Action::${action}`,
      'Data-key actions (GenerateDataKey*, ReEncrypt*) on the one key that encrypts the table and the topic, as DynamoDB and SNS require of callers of a KMS-encrypted table and topic; only roles that use the table or publish get them.',
    );
  }
}
