import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { AwsTransientError, ConfigError } from '../../domain/errors.js';
import type { Notification, Notifier } from '../../ports/notifier.js';
import { describeError, isTransientAwsError } from './errors.js';

/** SNS limits a subject to printable ASCII, no line breaks, fewer than 100 characters. */
export const SNS_SUBJECT_MAX = 99;
/** SNS limits a message to 256 KiB; this leaves room for the message attributes. */
export const SNS_MESSAGE_MAX_BYTES = 250_000;

/** Where the notifier publishes. */
export interface SnsNotifierProps {
  readonly client: SNSClient;
  readonly topicArn: string;
}

/**
 * Publishes each notification to one SNS topic. Subscribers can filter on the message attributes
 * `kind`, `service` and (when known) `deploymentId`, e.g. to page only on `rollback` and `alarm`.
 * Throttling and 5xx that outlive the SDK's retries become AwsTransientError.
 */
export class SnsNotifier implements Notifier {
  constructor(private readonly props: SnsNotifierProps) {
    if (!props.topicArn.startsWith('arn:')) {
      throw new ConfigError(
        `SnsNotifier: topicArn must be a topic ARN (arn:aws:sns:...), got "${props.topicArn}"`,
      );
    }
  }

  async notify(n: Notification): Promise<void> {
    const attributes: Record<string, { DataType: 'String'; StringValue: string }> = {
      kind: { DataType: 'String', StringValue: n.kind },
      service: { DataType: 'String', StringValue: n.service },
    };
    if (n.deploymentId) attributes.deploymentId = { DataType: 'String', StringValue: n.deploymentId };
    try {
      await this.props.client.send(
        new PublishCommand({
          TopicArn: this.props.topicArn,
          Subject: snsSubject(n.subject),
          Message: snsMessage(n.message),
          MessageAttributes: attributes,
        }),
      );
    } catch (error) {
      if (isTransientAwsError(error)) {
        throw new AwsTransientError(`SNS Publish to ${this.props.topicArn} failed: ${describeError(error)}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

/**
 * A subject SNS accepts: printable ASCII (common typography mapped to ASCII, the rest dropped),
 * whitespace runs collapsed to one space, at most {@link SNS_SUBJECT_MAX} characters (cut ends in `...`).
 */
export function snsSubject(subject: string): string {
  const ascii = subject
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2192/g, '->')
    .replace(/\u2026/g, '...')
    .normalize('NFKD')
    .replace(/\s/g, ' ')
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim();
  const text = ascii.length > 0 ? ascii : 'tps-deploy notification';
  return text.length <= SNS_SUBJECT_MAX ? text : `${text.slice(0, SNS_SUBJECT_MAX - 3).trimEnd()}...`;
}

/** The message, cut (at a character boundary, with a note) if it exceeds {@link SNS_MESSAGE_MAX_BYTES}. */
export function snsMessage(message: string): string {
  const text = message.length > 0 ? message : '(no details)';
  if (Buffer.byteLength(text) <= SNS_MESSAGE_MAX_BYTES) return text;
  const note =
    '\n\n[message truncated to fit the SNS size limit; the full record is in the deployments table]';
  const budget = SNS_MESSAGE_MAX_BYTES - Buffer.byteLength(note);
  // Cut on bytes, then drop a partial UTF-8 sequence the cut may have left at the end.
  const cut = Buffer.from(text)
    .subarray(0, budget)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return cut + note;
}
