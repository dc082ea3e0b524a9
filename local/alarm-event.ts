import { randomUUID } from 'node:crypto';
import { type AlarmSignal, alarmName } from '../functions/domain/alarms.js';

/**
 * An EventBridge "CloudWatch Alarm State Change" event (AWS CloudWatch user guide, "Alarm events
 * and EventBridge"), OK -> ALARM, for `<appName>-<service>-<signal>`: the shape the alarmRollback
 * function receives. `reasonData` carries the evaluation's queryDate, so each event is a new
 * state change.
 */
export function alarmEvent(appName: string, service: string, signal: AlarmSignal, at = new Date()) {
  const name = alarmName(appName, service, signal);
  const iso = at.toISOString();
  const cwTime = iso.replace('Z', '+0000');
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: iso.replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${name}`],
    detail: {
      alarmName: name,
      configuration: {
        description: `[critical] ${service}: local alarm. Rolls back.`,
        metrics: [
          {
            id: 'expr_1',
            expression: 'IF(requests > 0, FILL(errors, 0) / requests, 0)',
            label: 'error rate (ratio)',
            returnData: true,
          },
        ],
      },
      previousState: {
        value: 'OK',
        reason:
          'Threshold Crossed: 2 out of the last 2 datapoints were not greater than the threshold (0.01).',
        timestamp: cwTime,
      },
      state: {
        value: 'ALARM',
        reason:
          'Threshold Crossed: 2 out of the last 2 datapoints [0.0271, 0.0194] were greater than the threshold (0.01) (minimum 2 datapoints for OK -> ALARM transition).',
        reasonData: JSON.stringify({
          version: '1.0',
          queryDate: cwTime,
          period: 60,
          recentDatapoints: [0.0194, 0.0271],
          threshold: 0.01,
        }),
        timestamp: cwTime,
      },
    },
  };
}
