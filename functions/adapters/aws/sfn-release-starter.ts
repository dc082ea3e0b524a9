/** The `ReleaseStarter` port on Step Functions: StartExecution of a service's state machine. */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { AwsTransientError, ConfigError } from '../../domain/errors.js';
import type { ReleaseStarter } from '../../ports/executions.js';
import { describeError, isTransientAwsError } from './errors.js';

export class SfnReleaseStarter implements ReleaseStarter {
  constructor(
    private readonly props: {
      readonly client: SFNClient;
      /** The release state machine's ARN of each service. */
      readonly stateMachineArns: Readonly<Record<string, string>>;
    },
  ) {}

  async start(service: string, name: string, input: Readonly<Record<string, unknown>>): Promise<string> {
    const stateMachineArn = this.props.stateMachineArns[service];
    if (!stateMachineArn) throw new ConfigError(`no state machine ARN for service ${service}`);
    try {
      const out = await this.props.client.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return out.executionArn ?? '';
    } catch (e) {
      if (isTransientAwsError(e)) {
        throw new AwsTransientError(`Step Functions StartExecution ${service}/${name}: ${describeError(e)}`, {
          cause: e,
        });
      }
      throw e;
    }
  }
}
