import {
  consoleLinks,
  dashboardUrl,
  executionUrl,
  linkLines,
  logGroupUrl,
  regionOfArn,
} from '../../cli/links.js';

const ARN = 'arn:aws:states:eu-west-1:123456789012:execution:shop-api:d-1';

describe('console links (pure)', () => {
  it('the execution page of the Step Functions console, in the ARN region', () => {
    expect(executionUrl(ARN)).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${ARN}`,
    );
    expect(regionOfArn(ARN)).toBe('eu-west-1');
  });

  it('no link for a local run or something that is not a states ARN', () => {
    expect(executionUrl('arn:aws:states:local:000000000000:execution:shop-api:d-1')).toBeNull();
    expect(executionUrl('arn:aws:s3:::bucket')).toBeNull();
    expect(consoleLinks(null, 'shop', 'api')).toBeNull();
    expect(
      consoleLinks('arn:aws:states:local:000000000000:execution:shop-api:d-1', 'shop', 'api'),
    ).toBeNull();
    expect(linkLines(null)).toEqual([]);
  });

  it('the dashboard <appName>-<service> and the state machine log group, double-encoded as the console does', () => {
    expect(dashboardUrl('eu-west-1', 'shop-api')).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/shop-api',
    );
    expect(logGroupUrl('eu-west-1', '/aws/vendedlogs/states/shop-api')).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Fvendedlogs$252Fstates$252Fshop-api',
    );
    expect(consoleLinks(ARN, 'shop', 'api')).toEqual({
      execution: executionUrl(ARN),
      dashboard: dashboardUrl('eu-west-1', 'shop-api'),
      logs: logGroupUrl('eu-west-1', '/aws/vendedlogs/states/shop-api'),
    });
  });

  it('China and GovCloud partitions have their own console host', () => {
    expect(executionUrl('arn:aws-cn:states:cn-north-1:1:execution:shop-api:d-1')).toMatch(
      /^https:\/\/console\.amazonaws\.cn\/states\/home\?region=cn-north-1#/,
    );
    expect(
      consoleLinks('arn:aws-us-gov:states:us-gov-west-1:1:execution:shop-api:d-1', 'shop', 'api')?.dashboard,
    ).toBe(
      'https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#dashboards/dashboard/shop-api',
    );
  });

  it('text lines: console, dashboard, logs', () => {
    const lines = linkLines(consoleLinks(ARN, 'shop', 'api'));
    expect(lines.map((l) => l.trim().split(':')[0])).toEqual(['console', 'dashboard', 'logs']);
  });
});
