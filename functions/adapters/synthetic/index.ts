export {
  type LatencySegment,
  parseProfile,
  RUNBOOK_WEIGHT_SCHEDULE,
  type Segment,
  type TrafficProfile,
  type TrafficProfileInput,
  type VersionProfile,
  valueAt,
} from './profile.js';
export {
  loadProfile,
  PROFILE_DEFINITIONS,
  PROFILE_NAMES,
  PROFILE_SLO_P99_MS,
  PROFILES,
  type ProfileName,
} from './profiles.js';
export { SyntheticMetricsSource, type SyntheticMetricsSourceProps, type TrafficSample } from './source.js';
