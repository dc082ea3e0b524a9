import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  SNS_MESSAGE_MAX_BYTES,
  SnsNotifier,
  snsMessage,
  snsSubject,
} from '../../functions/adapters/aws/sns-notifier.js';
import { CollectingNotifier } from '../../functions/adapters/collecting-notifier.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import type { Notification } from '../../functions/ports/notifier.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:tps-deploy-notifications';
const sns = mockClient(SNSClient);

beforeEach(() => {
  sns.reset();
  // Documented Publish response shape: { MessageId, SequenceNumber? }.
  sns.on(PublishCommand).resolves({ MessageId: '5a1b2c3d-0000-4000-8000-000000000001' });
});

const rollback: Notification = {
  kind: 'rollback',
  service: 'api',
  deploymentId: 'd-42',
  subject: 'api: rolled back at canary (error rate 0.42% > 0.10%)',
  message: 'Canary error rate 0.42% (21/5000) against stable 0.05%.\nRolled back to api:v1.',
};

describe('SnsNotifier', () => {
  it('publishes subject, message and filterable attributes', async () => {
    await new SnsNotifier({ client: new SNSClient({ region: 'us-east-1' }), topicArn: TOPIC }).notify(
      rollback,
    );

    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC,
      Subject: rollback.subject,
      Message: rollback.message,
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: 'rollback' },
        service: { DataType: 'String', StringValue: 'api' },
        deploymentId: { DataType: 'String', StringValue: 'd-42' },
      },
    });
  });

  it('leaves out the deploymentId attribute when there is none (SNS refuses empty values)', async () => {
    await new SnsNotifier({ client: new SNSClient({ region: 'us-east-1' }), topicArn: TOPIC }).notify({
      ...rollback,
      kind: 'alarm',
      deploymentId: null,
    });
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(Object.keys(input.MessageAttributes ?? {}).sort()).toEqual(['kind', 'service']);
  });

  it('keeps the subject within the SNS limit and ASCII', async () => {
    const long = `api: canary → staging ✓ “validated” — ${'x'.repeat(200)}\nsecond line`;
    await new SnsNotifier({ client: new SNSClient({ region: 'us-east-1' }), topicArn: TOPIC }).notify({
      ...rollback,
      subject: long,
    });
    const subject = sns.commandCalls(PublishCommand)[0]!.args[0].input.Subject!;
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject.startsWith('api: canary -> staging "validated" - xxx')).toBe(true);
    expect(subject.endsWith('...')).toBe(true);
  });

  it('turns throttling that outlived the SDK retries into AwsTransientError', async () => {
    sns
      .on(PublishCommand)
      .rejects(
        Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
      );
    const notifier = new SnsNotifier({
      client: new SNSClient({ region: 'us-east-1', maxAttempts: 1 }),
      topicArn: TOPIC,
    });
    await expect(notifier.notify(rollback)).rejects.toMatchObject({ name: ERROR_NAMES.awsTransient });
  });

  it('passes other failures through unchanged', async () => {
    sns.on(PublishCommand).rejects(
      Object.assign(new Error('Topic does not exist'), {
        name: 'NotFoundException',
        $metadata: { httpStatusCode: 404 },
      }),
    );
    const notifier = new SnsNotifier({ client: new SNSClient({ region: 'us-east-1' }), topicArn: TOPIC });
    await expect(notifier.notify(rollback)).rejects.toMatchObject({ name: 'NotFoundException' });
  });

  it('refuses a topic that is not an ARN', () => {
    expect(
      () => new SnsNotifier({ client: new SNSClient({ region: 'us-east-1' }), topicArn: 'alerts' }),
    ).toThrow(/topicArn must be a topic ARN.*"alerts"/);
  });
});

describe('snsSubject and snsMessage', () => {
  it.each([
    ['short stays as is', 'api: release started', 'api: release started'],
    ['line breaks become spaces', 'a\r\nb\tc', 'a b c'],
    ['accents lose their marks', 'déploiement réussi', 'deploiement reussi'],
    ['nothing printable gets a default', '✓✓', 'tps-deploy notification'],
  ])('%s', (_name, input, expected) => {
    expect(snsSubject(input)).toBe(expected);
  });

  it('cuts an oversized message on a character boundary and says so', () => {
    const huge = 'é'.repeat(200_000); // 400 000 bytes
    const out = snsMessage(huge);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(SNS_MESSAGE_MAX_BYTES);
    expect(out).not.toContain('\uFFFD');
    expect(out).toMatch(/message truncated/);
    expect(snsMessage('')).toBe('(no details)');
  });
});

describe('CollectingNotifier', () => {
  it('keeps notifications in order, by kind, and forwards them', async () => {
    const seen: string[] = [];
    const notifier = new CollectingNotifier((n) => seen.push(n.subject));
    await notifier.notify({ ...rollback, kind: 'starting', subject: 'starting' });
    await notifier.notify(rollback);
    expect(notifier.notifications.map((n) => n.kind)).toEqual(['starting', 'rollback']);
    expect(notifier.ofKind('rollback')).toEqual([rollback]);
    expect(seen).toEqual(['starting', rollback.subject]);
    notifier.clear();
    expect(notifier.notifications).toEqual([]);
  });
});
