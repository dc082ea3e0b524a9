import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag finding on a construct and its children, with the reason in code.
 * `finding` is the part in brackets of a granular rule, e.g. `Resource::*` for
 * `AwsSolutions-IAM5[Resource::*]`; build it with {@link nagResource} when it contains a token.
 */
export function acknowledgeNag(
  scope: IConstruct,
  rule: string,
  finding: string | undefined,
  reason: string,
): void {
  if (reason.trim().length < 20) {
    throw new Error(
      `acknowledgeNag: the reason for ${rule} must say why the finding is acceptable (got "${reason}"). Write a sentence.`,
    );
  }
  Validations.of(scope).acknowledge({ id: finding === undefined ? rule : `${rule}[${finding}]`, reason });
}

/**
 * How cdk-nag spells an IAM resource in a finding: the resolved value flattened, references as
 * `<LogicalId.Attr>` and `<AWS::Region>` (cdk-nag's flattenCfnReference, which it does not export).
 */
export function nagResource(scope: IConstruct, value: string): string {
  return `Resource::${flatten(Stack.of(scope).resolve(value))}`;
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(sep);
    }
    if (o['Fn::Sub'] !== undefined) return flatten(o['Fn::Sub']);
    if (Array.isArray(o['Fn::GetAtt'])) {
      const [res, attr] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(res)}.${flatten(attr)}>`;
    }
    if (o['Fn::ImportValue'] !== undefined) return flatten(o['Fn::ImportValue']);
    if (o.Ref !== undefined) return `<${flatten(o.Ref)}>`;
  }
  return JSON.stringify(node);
}
