/**
 * Notifications never decide a release: a message that cannot be sent (SNS throttled, the topic
 * gone) is reported and dropped, so a released version is never marked failed, nor a rollback
 * retried, because a message was lost. The team still has the record, the dashboard and the
 * execution history.
 */
import type { Notification, Notifier } from '../ports/notifier.js';

/** What happened to a message that could not be sent. */
export type NotifyFailure = (n: Notification, error: unknown) => void;

/** Writes the failure as one JSON line with the release's keys (what Lambda puts in its log). */
export const logNotifyFailure: NotifyFailure = (n, error) => {
  process.stderr.write(
    `${JSON.stringify({
      level: 'WARN',
      message: 'notification not sent',
      service: n.service,
      deploymentId: n.deploymentId,
      kind: n.kind,
      subject: n.subject,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    })}\n`,
  );
};

/** `inner`, with every failure reported to `onFailure` instead of thrown. */
export function bestEffort(inner: Notifier, onFailure: NotifyFailure = logNotifyFailure): Notifier {
  return {
    async notify(n) {
      try {
        await inner.notify(n);
      } catch (error) {
        onFailure(n, error);
      }
    },
  };
}
