/**
 * The service catalog: which services tps-deploy releases and how to reach and measure them.
 *
 * The CDK app reads this file at synth time (one state machine, alarm set and dashboard per
 * service) and ships the parsed catalog to the functions as `catalog.json` next to their handler,
 * so a change takes effect with `npx cdk deploy`.
 * Anything not set here comes from the runbook defaults in functions/domain/defaults.ts.
 * `npx cdk synth` checks the file and names every bad field.
 *
 * The two services below are samples: replace them with your own.
 */
import { defineCatalog } from './functions/domain/config.js';

export default defineCatalog({
  // Prefix of every AWS resource name: the stack, the state machines (`<appName>-<service>`),
  // the table (`<appName>-deployments`), the topic, the alarms and the dashboards.
  // Letters, digits and hyphens, starting with a letter, at most 31 characters.
  appName: 'tps-deploy',

  services: {
    // ---------------------------------------------------------------------------------------
    // `api`: traffic split by replica ratio behind one Kubernetes Service, with the service's
    // own CloudWatch metrics, a circuit breaker, and a work queue.
    // ---------------------------------------------------------------------------------------
    api: {
      // Free text for people reading the catalog.
      description: 'Public REST API (sample: replica-ratio router, full CloudWatch metrics)',
      // The EKS cluster that runs the service. Its region must be the stack's region (the EKS
      // access entry is created there). The cluster's authentication mode must be API or
      // API_AND_CONFIG_MAP.
      cluster: { name: 'prod-eks', region: 'us-east-1' },
      // Namespace of the Deployment; apply infra/k8s/tps-deploy-role.yaml in it.
      namespace: 'shop',
      // The Deployment a release changes (the stable version).
      deployment: 'api',
      // Containers whose image a release may change; the first is the one `image` sets.
      containers: ['api'],
      // How traffic moves to the new version. `replica-ratio`: a canary Deployment joins the
      // Service's endpoints and the canary share is its share of ready replicas, so a 10% step
      // needs at least 10 replicas in total to be exact.
      router: {
        type: 'replica-ratio',
        // The Service in front of the Deployment.
        service: 'api',
      },
      // The latency objective. The dashboard draws it; the p99 rollback alarm starts at 3x it
      // until the first release measures a baseline.
      slo: { p99Ms: 300 },
      metrics: {
        // `cloudwatch`: the service publishes its own metrics to CloudWatch (e.g. with the
        // embedded metric format). Publish each metric with two dimension sets: the `dimensions`
        // below alone (the alarms watch the whole service) and those plus `versionDimension`
        // (validation and the dashboard compare canary with stable).
        // (`synthetic`, made-up traffic for local runs, is refused by synth unless the service is
        // marked `sandbox: true`: a sandbox nobody depends on. Both samples here are real services.)
        source: 'cloudwatch',
        // CloudWatch namespace of the metrics.
        namespace: 'Shop/Api',
        // Count of requests; read as Sum.
        requests: 'RequestCount',
        // Count of failed requests (5xx); read as Sum.
        errors: 'ErrorCount',
        // Request latency in milliseconds; read as p50 and p99.
        latency: 'Latency',
        // Dimensions that select this service's metrics.
        dimensions: { Service: 'api' },
        // The dimension whose value is the version: the image tag of the release (for
        // `123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v2.1.0` that is `v2.1.0`).
        versionDimension: 'Version',
        // Optional: 1 while the service's circuit breaker is open. Open for 2 minutes or more
        // rolls back. Omit it when the service has no breaker.
        circuitBreaker: {
          namespace: 'Shop/Api',
          name: 'CircuitBreakerOpen',
          dimensions: { Service: 'api' },
          // Statistic per minute; Maximum makes one open moment count.
          stat: 'Maximum',
        },
        // Optional: queue depth, drawn on the dashboard.
        queueDepth: {
          namespace: 'Shop/Api',
          name: 'QueueDepth',
          dimensions: { Service: 'api', Queue: 'orders' },
          stat: 'Average',
        },
        // Optional: share of busy workers (0-100), drawn on the dashboard.
        workerUtilization: {
          namespace: 'Shop/Api',
          name: 'WorkerUtilization',
          dimensions: { Service: 'api' },
          stat: 'Average',
        },
        // Optional: the ClusterName of the Container Insights metrics (CPU, memory, disk, OOM
        // kills), when it differs from cluster.name. OOM kills need Container Insights with
        // enhanced observability (the amazon-cloudwatch-observability add-on).
        // containerInsightsCluster: 'prod-eks',
      },
      // Optional: what the service's test and migration Jobs run as and may run. Without it the
      // service runs no Jobs: `tests` below and a release's `migration` are refused. Every Job
      // gets the restricted Pod Security profile (docs/deploying.md, "Test and migration Jobs").
      jobs: {
        // The ServiceAccount every Job runs as (never taken from a release's input). Create it in
        // the namespace and bind it to nothing unless the Jobs need the Kubernetes API.
        serviceAccountName: 'api-release-jobs',
        // Repositories the test and migration images must come from, registry host included:
        // `host/path` exactly, `host/path/*` one level below, `host/path/**` any depth below.
        allowedImages: ['123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/**'],
        // Kubernetes Secrets in the namespace the Jobs' env may reference as
        // { secretKeyRef: { name, key } }; no credential is ever written in plaintext.
        secrets: ['api-db'],
        // Optional: requests and limits (defaults in functions/domain/defaults.ts, RUNBOOK.jobs),
        // a UID for an image whose USER is root or a name, the API token (not mounted by default).
        // resources: { limits: { memory: '1Gi' } },
        // runAsUser: 10001,
        // automountServiceAccountToken: false,
      },
      // Optional: a test Job per phase, from an allowed image, run during the phase's window.
      // tests: { canary: { image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/smoke:v1' } },
      // Optional overrides of the runbook's phases (weights in percent, windows in seconds).
      // Weights must increase and production must be 100.
      // phases: { canary: { weight: 10, windowSeconds: 600 } },
      // Optional overrides of the validation thresholds (functions/domain/defaults.ts).
      // validation: { maxErrorRate: 0.001, minRequestsPerVersion: 200 },

      // Who is on call. The on-call gate wants someone on call when the release starts and still
      // at its expected end; without an on-call source every release fails that gate. A weekly
      // schedule in UTC: each shift names who, the days it starts on, and HH:MM start and end (a
      // shift whose end is not after its start runs overnight into the next day). Replace the
      // names with your rotation's.
      onCall: {
        schedule: [
          // Follow the sun, every day: Europe by day, the Americas overnight.
          {
            who: 'shop-oncall-emea',
            days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
            start: '06:00',
            end: '18:00',
          },
          {
            who: 'shop-oncall-amer',
            days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
            start: '18:00',
            end: '06:00',
          },
        ],
      },
      // Or ask your paging tool: GET returns JSON `{ "onCall": ["name", ...] }` (or one name); an
      // empty list means nobody, and an error or no answer within timeoutSeconds (default 5) fails
      // the gate with the reason.
      // onCall: { url: 'https://oncall.example.com/api/now/shop', timeoutSeconds: 5 },
      // Who may answer a release, as IAM principals (a role ARN matches every session of the
      // role). "Request Approval" waits for an approver (approval is on unless `approval: false`);
      // a service with no approvers cannot be answered, so its releases wait until the approval
      // times out (1 hour) and count as rejected. The requester never approves their own release.
      // A release not started through the verified endpoint (the console, a pipeline) needs two
      // different approvers (unverifiedStartApprovals), so one is not the requester: with IAM
      // Identity Center roles, whose session names AWS sets to the person's, two leads are two
      // sessions of the one role.
      duties: {
        approvers: ['arn:aws:iam::123456789012:role/AWSReservedSSO_ShopTeamLead_*'],
        // Who may promote or abort a held release (default: the approvers).
        // aborters: ['arn:aws:iam::123456789012:role/ShopOnCall'],
        // testsPassed must come from this CodePipeline action (the input's provenance names it);
        // a release started by hand, like the README's console example, is then refused.
        // requireTestsFrom: { pipeline: 'shop-api-release', action: 'BuildAndTest' },
        // (the build action of infra/examples/codepipeline-release.ts, which writes that provenance)
      },
      // Optional: change freezes (UTC) in which no standard release starts; a hotfix may, unless
      // allowHotfix is false. An ISO 8601 interval, or a cron of each freeze's start plus a length.
      // freezeWindows: [
      //   { name: 'year-end', interval: '2026-12-20T00:00:00Z/2027-01-04T00:00:00Z' },
      //   { name: 'weekend', cron: '0 17 * * FRI', durationMinutes: 3840, allowHotfix: true },
      // ],
    },

    // ---------------------------------------------------------------------------------------
    // `web`: weighted forwarding on an ALB Ingress (AWS Load Balancer Controller), with the
    // core metrics only; the dashboard shows how to add the rest.
    // ---------------------------------------------------------------------------------------
    web: {
      description: 'Storefront web app (sample: ALB weighted routing, core metrics only)',
      cluster: { name: 'prod-eks', region: 'us-east-1' },
      namespace: 'shop',
      deployment: 'web',
      containers: ['web'],
      // `alb`: the Ingress gets a weighted forward action between the stable Service and a
      // canary Service that tps-deploy creates, so the split is exact at any replica count.
      router: {
        type: 'alb',
        // The Ingress handled by the AWS Load Balancer Controller.
        ingress: 'web',
        // Name of the forward action: the annotation is alb.ingress.kubernetes.io/actions.<actionName>,
        // and the Ingress rule's backend must name this action with port `use-annotation`.
        actionName: 'web-weighted',
        // The Service that exists before the release.
        stableService: 'web',
        // Optional: name of the canary Service (default `<stableService>-tps-canary`). tps-deploy
        // creates and deletes it, so it must not be the stable Service or any Service of yours.
        // Service names are DNS-1035 labels of at most 63 characters: with the default, the
        // stable Service's name may have at most 52.
        // canaryService: 'web-canary',
        // Port of the Services in the forward action (number or name).
        servicePort: 80,
      },
      slo: { p99Ms: 800 },
      metrics: {
        source: 'cloudwatch',
        namespace: 'Shop/Web',
        requests: 'RequestCount',
        errors: 'ErrorCount',
        latency: 'Latency',
        dimensions: { Service: 'web' },
        versionDimension: 'Version',
      },
      // A longer canary window than the runbook's 10 minutes: the storefront's traffic is
      // spiky, and fewer than 200 requests per version in a window is inconclusive.
      phases: { canary: { windowSeconds: 900 } },
      // The same rotation and team lead as `api` (see there).
      onCall: {
        schedule: [
          {
            who: 'shop-oncall-emea',
            days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
            start: '06:00',
            end: '18:00',
          },
          {
            who: 'shop-oncall-amer',
            days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
            start: '18:00',
            end: '06:00',
          },
        ],
      },
      duties: { approvers: ['arn:aws:iam::123456789012:role/AWSReservedSSO_ShopTeamLead_*'] },
    },
  },
});
