/** The kinds of message the runbook asks for. */
export type NotificationKind =
  | 'starting'
  | 'decision'
  | 'rollback'
  | 'approval-needed'
  | 'stand-down'
  | 'alarm'
  | 'finished';

export interface Notification {
  readonly kind: NotificationKind;
  readonly service: string;
  readonly deploymentId: string | null;
  readonly subject: string;
  readonly message: string;
}

/** SNS in AWS; a collecting notifier locally. */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}
