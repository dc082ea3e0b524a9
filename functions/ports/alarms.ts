/** The service's CloudWatch alarms as the release sees them: the p99 threshold it moves, and their states. */

/**
 * The p99 alarm's threshold during a release: "Record Rollback Plan" moves it to
 * RUNBOOK.rollbackTriggers.p99BaselineMultiplier x the measured baseline p99, and the end of the
 * release (complete, roll back, fail) puts the configured threshold back. CloudWatch in AWS
 * (functions/adapters/aws/alarm-thresholds.ts); local/alarm-thresholds.ts locally.
 */
export interface AlarmThresholds {
  /**
   * Sets the threshold of the service's latency alarm. `previous` is the alarm's configured
   * threshold (the one {@link AlarmThresholds.restore} puts back), or null when the service has
   * no latency alarm, in which case nothing changed. Idempotent.
   */
  setLatencyThreshold(service: string, thresholdMs: number): Promise<{ previous: number | null }>;
  /** Puts the configured threshold back; a no-op when nothing was set. Idempotent. */
  restore(service: string): Promise<void>;
}

/** The state of one CloudWatch alarm; `MISSING` when no alarm has that name. */
export interface AlarmStateReading {
  readonly name: string;
  readonly state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | 'MISSING';
  readonly reason: string | null;
  readonly since: string | null;
}

/** Reads alarm states: CloudWatch DescribeAlarms in AWS, a settable table locally. */
export interface AlarmStates {
  /** One reading per name, in the order asked. */
  read(names: readonly string[]): Promise<AlarmStateReading[]>;
}
