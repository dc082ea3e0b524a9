/**
 * Turns a synthesized template value (an output's `Value`, an IAM policy's `Resource`) into the
 * string CloudFormation would give after deployment, as DescribeStacks returns outputs: pseudo
 * parameters become the given account, region and partition; `Ref` of a state machine or a topic
 * becomes its ARN and of a table its name (from the template's names); any other `Ref` becomes the
 * logical ID, and `Fn::GetAtt [X, Attr]` becomes `X.Attr`. Enough to check that a value parses
 * (parseRunbookOutput) and to compare policies by readable strings.
 */

/** Where the stack is deployed, for pseudo parameters. */
export interface DeployedAt {
  readonly stackName: string;
  readonly region: string;
  readonly account?: string;
  /** The template, so a Ref names a resource's physical name or ARN where the template sets it. */
  readonly template?: {
    readonly Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
}

export function resolveOutputValue(value: unknown, at: DeployedAt): string {
  const account = at.account ?? '123456789012';
  const pseudo: Record<string, string> = {
    'AWS::Region': at.region,
    'AWS::AccountId': account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': at.stackName,
    'AWS::NoValue': '',
  };
  const refOf = (id: string): string => {
    const resource = at.template?.Resources?.[id];
    const props = resource?.Properties ?? {};
    if (resource?.Type === 'AWS::StepFunctions::StateMachine' && typeof props.StateMachineName === 'string')
      return `arn:aws:states:${at.region}:${account}:stateMachine:${props.StateMachineName}`;
    if (resource?.Type === 'AWS::SNS::Topic' && typeof props.TopicName === 'string')
      return `arn:aws:sns:${at.region}:${account}:${props.TopicName}`;
    if (resource?.Type === 'AWS::DynamoDB::Table' && typeof props.TableName === 'string')
      return props.TableName;
    return id;
  };
  const resolve = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o['Fn::Join'])) {
        const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(resolve).join(sep);
      }
      if (typeof o.Ref === 'string') return pseudo[o.Ref] ?? refOf(o.Ref);
      if (Array.isArray(o['Fn::GetAtt'])) {
        const [id, attr] = o['Fn::GetAtt'] as [string, string];
        return `${id}.${attr}`;
      }
      if (Array.isArray(o['Fn::Select'])) {
        const [index, list] = o['Fn::Select'] as [number, unknown];
        const items = Array.isArray(list) ? list.map(resolve) : resolve(list).split(',');
        return items[Number(index)] ?? '';
      }
      if (Array.isArray(o['Fn::Split'])) {
        const [sep, text] = o['Fn::Split'] as [string, unknown];
        return resolve(text).split(sep).join(',');
      }
    }
    throw new Error(`resolveOutputValue: cannot resolve ${JSON.stringify(v)}`);
  };
  return resolve(value);
}
