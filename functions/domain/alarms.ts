import { z } from 'zod';

/** The runbook's rollback triggers, one alarm each, plus the warning when metrics go missing. */
export const ALARM_SIGNALS = {
  errorRate: { severity: 'critical', title: 'error rate > 1% for 2 minutes' },
  latency: { severity: 'critical', title: 'p99 > 3x baseline for 2 minutes' },
  circuitBreaker: { severity: 'critical', title: 'circuit breaker open for 2+ minutes' },
  oomKills: { severity: 'critical', title: 'pods OOM-killed' },
  metricsMissing: { severity: 'warning', title: 'request metrics missing' },
} as const;

export type AlarmSignal = keyof typeof ALARM_SIGNALS;
export type Severity = 'critical' | 'warning';

/** The deterministic alarm name: `<appName>-<service>-<signal>`. Functions find services by it. */
export function alarmName(appName: string, service: string, signal: AlarmSignal): string {
  return `${appName}-${service}-${signal}`;
}

/** Reverse of {@link alarmName}; null when the alarm is not one of ours. */
export function parseAlarmName(
  appName: string,
  name: string,
  services: readonly string[],
): { service: string; signal: AlarmSignal } | null {
  const prefix = `${appName}-`;
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  for (const service of services) {
    if (!rest.startsWith(`${service}-`)) continue;
    const signal = rest.slice(service.length + 1);
    if (Object.hasOwn(ALARM_SIGNALS, signal)) return { service, signal: signal as AlarmSignal };
  }
  return null;
}

/** EventBridge "CloudWatch Alarm State Change" (AWS CloudWatch user guide, "Alarm events and EventBridge"). */
export const alarmEventSchema = z.object({
  id: z.string().min(1),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  source: z.literal('aws.cloudwatch'),
  time: z.string().min(1),
  region: z.string().min(1),
  resources: z.array(z.string()).min(1),
  detail: z.object({
    alarmName: z.string().min(1),
    state: z.object({
      value: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
      reason: z.string(),
      reasonData: z.string().optional(),
      timestamp: z.string().min(1),
    }),
    previousState: z
      .object({ value: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']), reason: z.string().optional() })
      .passthrough()
      .optional(),
    configuration: z.object({ description: z.string().optional() }).passthrough().optional(),
  }),
});

export type AlarmEvent = z.infer<typeof alarmEventSchema>;
