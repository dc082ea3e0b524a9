/** Placeholder account, region and partition of local runs, where a template has pseudo parameters. */
export const PLACEHOLDER = { account: '123456789012', region: 'us-east-1', partition: 'aws' } as const;
