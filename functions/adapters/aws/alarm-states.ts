import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandOutput,
} from '@aws-sdk/client-cloudwatch';
import { AwsTransientError } from '../../domain/errors.js';
import type { AlarmStateReading, AlarmStates } from '../../ports/alarms.js';
import { describeError, isTransientAwsError } from './errors.js';

/** DescribeAlarms accepts at most 100 alarm names per call. */
export const DESCRIBE_ALARMS_MAX_NAMES = 100;

/** Where the alarm states come from. */
export interface CloudWatchAlarmStatesProps {
  readonly client: CloudWatchClient;
}

/**
 * The monitoring gate's view of the service's alarms: DescribeAlarms by name (metric and
 * composite alarms), one reading per name asked; a name CloudWatch does not know is `MISSING`
 * (the alarms were never deployed, or were renamed). Throttling and 5xx become AwsTransientError.
 */
export class CloudWatchAlarmStates implements AlarmStates {
  constructor(private readonly props: CloudWatchAlarmStatesProps) {}

  async read(names: readonly string[]): Promise<AlarmStateReading[]> {
    const found = new Map<string, AlarmStateReading>();
    for (let i = 0; i < names.length; i += DESCRIBE_ALARMS_MAX_NAMES) {
      const batch = names.slice(i, i + DESCRIBE_ALARMS_MAX_NAMES);
      let nextToken: string | undefined;
      do {
        let out: DescribeAlarmsCommandOutput;
        try {
          out = await this.props.client.send(
            new DescribeAlarmsCommand({
              AlarmNames: [...batch],
              AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
              NextToken: nextToken,
            }),
          );
        } catch (error) {
          if (isTransientAwsError(error)) {
            throw new AwsTransientError(`DescribeAlarms failed: ${describeError(error)}`, { cause: error });
          }
          throw error;
        }
        for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
          if (!a.AlarmName) continue;
          found.set(a.AlarmName, {
            name: a.AlarmName,
            state: stateOf(a.StateValue),
            reason: a.StateReason ?? null,
            since: a.StateUpdatedTimestamp ? new Date(a.StateUpdatedTimestamp).toISOString() : null,
          });
        }
        nextToken = out.NextToken;
      } while (nextToken);
    }
    return names.map((name) => found.get(name) ?? { name, state: 'MISSING', reason: null, since: null });
  }
}

function stateOf(v: string | undefined): AlarmStateReading['state'] {
  return v === 'OK' || v === 'ALARM' || v === 'INSUFFICIENT_DATA' ? v : 'INSUFFICIENT_DATA';
}
