import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseCatalog } from '../../functions/domain/config.js';
import { buildApp } from '../../infra/build-app.js';
import sample from '../../tps.config.js';
import { synthStack } from '../helpers/synth.js';

const noBundling = { context: { 'aws:cdk:bundling-stacks': [] } };

describe('cdk-nag AWS Solutions checks', () => {
  test('the stack passes: every finding is fixed or acknowledged with a reason', () => {
    expect(() => synthStack()).not.toThrow();
  });

  test('the stack passes with a concrete account and region too', () => {
    expect(() => synthStack({ env: { account: '123456789012', region: 'us-east-1' } })).not.toThrow();
  });

  test('the check is live: a non-compliant resource in the real app fails synthesis', () => {
    const { stack } = buildApp({ catalog: parseCatalog(sample), appProps: noBundling, env: {} });
    // Unencrypted, and accepts requests without TLS.
    new sqs.Queue(stack, 'DeliberatelyBadQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => Template.fromStack(stack)).toThrow(/AwsSolutions-SQS4/);
  });

  test('the check is live: an unacknowledged wildcard permission fails synthesis', () => {
    const { stack } = buildApp({ catalog: parseCatalog(sample), appProps: noBundling, env: {} });
    stack.functions.roles.validateInput.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::some-bucket/*'] }),
    );
    expect(() => Template.fromStack(stack)).toThrow(
      /AwsSolutions-IAM5\[Resource::arn:aws:s3:::some-bucket\/\*\]/,
    );
  });

  test('an acknowledgement silences only its own finding', () => {
    const app = new App(noBundling);
    const stack = new Stack(app, 'Probe');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:Get*'], resources: ['*'] }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'probe: resource only',
    });
    expect(() => Template.fromStack(stack)).toThrow(/AwsSolutions-IAM5\[Action::s3:Get\*\]/);
  });
});
