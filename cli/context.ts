/**
 * What the AWS-facing commands share: the global flags, the catalog, the AWS clients (honouring
 * `--region`/AWS_REGION and `--profile`/AWS_PROFILE), the deployments table and the lookups of a
 * deployment by id or execution ARN.
 *
 * Where the runbook comes from:
 * - `--stack <name>` (or TPS_STACK): the deployed stack's `TpsDeployRunbook` output
 *   (cli/runbook-source.ts) gives the region, the table, the answer endpoint, each service's
 *   state machine and dashboard, the topic, and the catalog the functions run with;
 * - `--config <file>`: the catalog file; with `--stack` too, the file gives the catalog and the
 *   stack the names and ARNs (a different appName is refused);
 * - neither: ./tps.config.ts, else, inside this repository only, the repository's own. Anywhere
 *   else an AWS-facing command refuses before any AWS call, naming both ways.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EKSClient } from '@aws-sdk/client-eks';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDbDeploymentStore } from '../functions/adapters/aws/dynamodb-store.js';
import type { RunbookOutput } from '../functions/contract/runbook-output.js';
import { type Catalog, type CatalogInput, parseCatalog } from '../functions/domain/config.js';
import { ConfigError } from '../functions/domain/errors.js';
import type { DeploymentRecord } from '../functions/domain/record.js';
import { dashboardName, stateMachineName, tableName } from '../infra/names.js';
import { LOCAL_CREDENTIALS, type LocalApiState, localStatePath, readLocalState } from '../local/api-state.js';
import { type AwsClients, CliError, type CliIo, EXIT_CODES, line, realSleep } from './io.js';
import { type ConsoleLinks, consoleLinks } from './links.js';
import {
  catalogOfRunbook,
  describeRunbook,
  differingFields,
  differingServices,
  STACK_ENV,
} from './runbook-source.js';

/** Flags every command accepts (commander puts them on the root program). */
export interface GlobalOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly config?: string;
  readonly table?: string;
  /** The deployed stack whose `TpsDeployRunbook` output describes the runbook. @default $TPS_STACK */
  readonly stack?: string;
  /** Talk to the running local environment (its state file) instead of AWS. */
  readonly local?: boolean;
}

/** Where `--local` sends the clients of services the local environment does not serve: nowhere. */
const CLOSED_LOCAL_ENDPOINT = 'http://127.0.0.1:1';

/** The repository this CLI runs from. */
const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/[/\\]$/, '');

/**
 * The catalog file used when neither `--config` nor `--stack` is given: ./tps.config.ts, else,
 * when `cwd` is inside this repository, the repository's own; else none (the command refuses
 * rather than use the repository's catalog and table somewhere they are not the user's).
 */
export function defaultConfigPath(cwd = process.cwd()): string | null {
  const local = resolve(cwd, 'tps.config.ts');
  if (existsSync(local)) return local;
  const rel = relative(REPOSITORY_ROOT, resolve(cwd));
  const inside = rel === '' || (rel.split(sep)[0] !== '..' && !isAbsolute(rel));
  return inside ? join(REPOSITORY_ROOT, 'tps.config.ts') : null;
}

/** Loads and parses a catalog module (its default export, as in tps.config.ts). */
export async function loadCatalog(path: string): Promise<Catalog> {
  if (!existsSync(path)) {
    throw new CliError(`--config: no catalog file at ${path}`, EXIT_CODES.usage);
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (error) {
    throw new CliError(`--config: cannot load ${path}: ${(error as Error).message}`, EXIT_CODES.usage, {
      cause: error,
    });
  }
  try {
    return parseCatalog(mod.default);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(`${path}: ${error.message}`, EXIT_CODES.usage);
    throw error;
  }
}

/** Per-run state of the AWS-facing commands; clients and the catalog are built on first use. */
export class CliContext {
  /** Set for commands that change things: a --config differing from the stack is then refused, not noted. */
  changes = false;
  private catalogPromise: Promise<Catalog> | undefined;
  private runbookPromise: Promise<RunbookOutput | null> | undefined;
  /** The stack's output once read; the clients built after it use its region. */
  private runbookValue: RunbookOutput | null = null;
  private readonly built: Partial<Record<keyof AwsClients, unknown>> = {};
  private storeInstance: DynamoDbDeploymentStore | undefined;

  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {}

  get env(): NodeJS.ProcessEnv {
    return this.io.env ?? process.env;
  }

  now(): Date {
    return this.io.now?.() ?? new Date();
  }

  sleep(ms: number): Promise<void> {
    return (this.io.sleep ?? realSleep)(ms);
  }

  /** Who is acting, for records and causes: `--requested-by`, else $TPS_USER, $USER, the OS user. */
  who(explicit?: string): string {
    if (explicit) return explicit;
    const fromEnv = this.env.TPS_USER ?? this.env.USER;
    if (fromEnv) return fromEnv;
    try {
      return userInfo().username || 'unknown';
    } catch {
      return 'unknown';
    }
  }

  /** The directory ./tps.config.ts is looked for in. */
  get cwd(): string {
    return this.io.cwd ?? process.cwd();
  }

  /**
   * The stack named by `--stack` or $TPS_STACK, or null. Under `--local` $TPS_STACK is ignored
   * (the local environment is not a deployed stack; see localState()).
   */
  stackName(): string | null {
    return this.options.stack || (this.options.local ? null : this.env[STACK_ENV]) || null;
  }

  /** True when the stack's name came from $TPS_STACK, not `--stack`. */
  stackFromEnv(): boolean {
    return !this.options.stack && !this.options.local && !!this.env[STACK_ENV];
  }

  /** How the user named the stack, for messages: `--stack` or TPS_STACK. */
  stackFlag(): string {
    return this.stackFromEnv() ? STACK_ENV : '--stack';
  }

  /**
   * The stack's `TpsDeployRunbook` output (read once), or null without `--stack`. A stack that
   * gives none is a CliError naming it.
   */
  runbook(): Promise<RunbookOutput | null> {
    const stack = this.stackName();
    if (!stack) return Promise.resolve(null);
    if (!this.runbookPromise && this.stackFromEnv()) {
      // A name from the shell's environment acts without being typed: say so, on stderr.
      line(this.io.stderr, `using stack ${stack} (from ${STACK_ENV})`);
    }
    this.runbookPromise ??= describeRunbook(
      this.cloudformation,
      stack,
      this.region() ?? 'the default region',
      (what, call) => this.aws(what, call),
      this.stackFlag(),
    ).then((r) => {
      // The stack's ARNs and table live in its region: clients in another would not find them.
      if (this.options.region && this.options.region !== r.region) {
        throw new CliError(
          `--region ${this.options.region}: stack "${stack}" runs in ${r.region} (its state machines, table and topic are there); drop --region or pass --region ${r.region}`,
          EXIT_CODES.usage,
        );
      }
      this.runbookValue = r;
      return r;
    });
    return this.runbookPromise;
  }

  /**
   * The catalog: `--config` (or the injected one), else the stack's, else ./tps.config.ts (inside
   * this repository, its own). With both a file and a stack the file's is used, after checking it
   * is the stack's app; where their services differ, a note on stderr says so.
   */
  catalog(): Promise<Catalog> {
    if (this.options.local) return this.localCatalog();
    this.catalogPromise ??= this.resolveCatalog();
    return this.catalogPromise;
  }

  /**
   * The catalog given as a file (`--config`) or injected, with its path; null without one. It
   * looks neither at the stack nor at ./tps.config.ts.
   */
  async givenCatalog(): Promise<{ readonly catalog: Catalog; readonly path: string } | null> {
    if (this.io.catalog) {
      return { catalog: parseCatalog(this.io.catalog as CatalogInput), path: '(the given catalog)' };
    }
    if (this.options.config)
      return { catalog: await loadCatalog(this.options.config), path: this.options.config };
    return null;
  }

  private async resolveCatalog(): Promise<Catalog> {
    const stack = this.stackName();
    const given = await this.givenCatalog();
    const fallback = given || stack ? null : defaultConfigPath(this.cwd);
    const file = given?.catalog ?? (fallback ? await loadCatalog(fallback) : null);
    const path = given?.path ?? fallback;
    if (!stack) {
      if (file) return file;
      throw new CliError(
        `no service catalog: pass --config <file> (your tps.config.ts) or --stack <name> (a deployed tps-deploy stack, or set ${STACK_ENV}); there is no tps.config.ts in ${this.cwd}`,
        EXIT_CODES.usage,
      );
    }
    const runbook = (await this.runbook())!;
    if (!file) {
      if (this.stackFromEnv()) await this.refuseOtherDefaultApp(stack, runbook);
      return catalogOfRunbook(stack, runbook, this.stackFlag());
    }
    const configPath = path ?? '(the given catalog)';
    if (file.appName !== runbook.appName) {
      throw new CliError(
        `--config ${configPath} is appName "${file.appName}" but stack "${stack}" runs appName "${runbook.appName}": they are not the same app; drop --config (the stack's catalog is used) or pass the stack of that app`,
        EXIT_CODES.usage,
      );
    }
    let differing: readonly string[];
    try {
      const deployed = catalogOfRunbook(stack, runbook);
      differing = differingServices(file, deployed);
      for (const s of differing) this.differences.set(s, differingFields(file, deployed, s));
    } catch {
      differing = ["(the stack's catalog does not parse here)"];
      this.differences.set('*', ["the stack's catalog does not parse here"]);
    }
    this.configPathValue = configPath;
    // A command that changes things refuses instead, for the service it acts on (requireSameAsStack).
    if (differing.length > 0 && !this.changes) {
      line(
        this.io.stderr,
        `note: --config ${configPath} differs from the catalog stack "${stack}" runs with (${differing.join(', ')}); this command uses the file's, the deployed functions the stack's`,
      );
    }
    return file;
  }

  /** With `--config` and a stack: the fields of each service where the file and the stack differ. */
  private readonly differences = new Map<string, readonly string[]>();
  private configPathValue = '';

  /**
   * For a command that changes `service` (start, abort, rollback, unlock, approve, ...): refuses
   * (exit 2, naming the differing fields) when `--config` and the stack differ for that service,
   * since the command would act on the file's settings and the deployed functions on the stack's.
   */
  async requireSameAsStack(service: string): Promise<void> {
    await this.catalog();
    const fields = this.differences.get(service) ?? this.differences.get('*');
    if (!fields) return;
    const stack = this.stackName()!;
    throw new CliError(
      `--config ${this.configPathValue} and stack "${stack}" differ for service "${service}" (${fields.join(', ')}): this command changes things, so it uses neither; drop --config (the stack's catalog is used) or deploy the file (npx cdk deploy ${stack})`,
      EXIT_CODES.usage,
    );
  }

  /**
   * $TPS_STACK beside a catalog file found by default (./tps.config.ts, or this repository's): a
   * stack of another app is refused, so a TPS_STACK left in the shell does not act on it from
   * another app's directory.
   */
  private async refuseOtherDefaultApp(stack: string, runbook: RunbookOutput): Promise<void> {
    const path = defaultConfigPath(this.cwd);
    if (!path) return;
    const file = await loadCatalog(path);
    if (file.appName === runbook.appName) return;
    throw new CliError(
      `${STACK_ENV} names stack "${stack}" (appName "${runbook.appName}") but ${path} is appName "${file.appName}": pass --stack ${stack} to act on that stack, unset ${STACK_ENV} to use the file, or pass --config <file>`,
      EXIT_CODES.usage,
    );
  }

  /**
   * Resolves where the runbook comes from before an AWS-facing command runs: the stack's output
   * and the catalog. Without either it refuses (exit 2) and nothing has been called.
   */
  async prepare(): Promise<void> {
    await this.catalog();
  }

  /** The region of the AWS clients: `--region`, else the stack's, else AWS_REGION / AWS_DEFAULT_REGION. */
  region(): string | undefined {
    return (
      this.options.region ?? this.runbookValue?.region ?? this.env.AWS_REGION ?? this.env.AWS_DEFAULT_REGION
    );
  }

  private clientConfig() {
    const region = this.region();
    const profile = this.options.profile ?? this.env.AWS_PROFILE;
    return { ...(region ? { region } : {}), ...(profile ? { profile } : {}) };
  }

  private client<K extends keyof AwsClients>(key: K, make: () => AwsClients[K]): AwsClients[K] {
    const injected = this.io.clients?.[key];
    if (injected) return injected;
    const local = this.localState();
    this.built[key] ??= local ? localClient(local, key) : make();
    return this.built[key] as AwsClients[K];
  }

  get sfn(): SFNClient {
    return this.client('sfn', () => new SFNClient(this.clientConfig()));
  }
  get dynamodb(): DynamoDBClient {
    return this.client('dynamodb', () => new DynamoDBClient(this.clientConfig()));
  }
  get eks(): EKSClient {
    return this.client('eks', () => new EKSClient(this.clientConfig()));
  }
  get cloudwatch(): CloudWatchClient {
    return this.client('cloudwatch', () => new CloudWatchClient(this.clientConfig()));
  }
  get sns(): SNSClient {
    return this.client('sns', () => new SNSClient(this.clientConfig()));
  }
  /**
   * An EKS client of a cluster's region (the injected one in tests). Under `--local` it is
   * {@link localClient}'s, at a closed loopback port: nothing reaches EKS.
   */
  eksIn(region: string): EKSClient {
    const injected = this.io.clients?.eks;
    if (injected) return injected;
    const local = this.localState();
    if (local) return localClient(local, 'eks');
    this.eksByRegion[region] ??= new EKSClient({ ...this.clientConfig(), region });
    return this.eksByRegion[region];
  }
  private readonly eksByRegion: Record<string, EKSClient> = {};

  get cloudformation(): CloudFormationClient {
    return this.client('cloudformation', () => new CloudFormationClient(this.clientConfig()));
  }
  get sts(): STSClient {
    return this.client('sts', () => new STSClient(this.clientConfig()));
  }

  /** The deployments table: `--table`, else the local environment's, else the stack's, else `<appName>-deployments`. */
  async tableName(): Promise<string> {
    if (this.options.table) return this.options.table;
    const local = this.localState();
    if (local) return local.tableName;
    const runbook = await this.runbook();
    return runbook?.tableName ?? tableName((await this.catalog()).appName);
  }

  /** A service's dashboard: the stack's, else `<appName>-<service>`. */
  async dashboardName(service: string): Promise<string> {
    const runbook = await this.runbook();
    return runbook?.dashboards[service] ?? dashboardName((await this.catalog()).appName, service);
  }

  /** The console links of a service's execution (its dashboard as the stack names it). */
  async links(executionArn: string | null, service: string): Promise<ConsoleLinks | null> {
    const { appName } = await this.catalog();
    return consoleLinks(executionArn, appName, service, await this.dashboardName(service));
  }

  // --local: the running local environment, from its state file (local/api-state.ts). Only the
  // endpoints, the table and the catalog differ; every command runs its usual code.

  private localStateValue: LocalApiState | undefined;

  /** `--local`: the state of the running local environment (null without `--local`). */
  localState(): LocalApiState | null {
    if (!this.options.local) return null;
    if (!this.localStateValue) {
      if (this.options.config) {
        throw new CliError(
          '--config: a --local environment has its own catalog; give --config or --local, not both',
          EXIT_CODES.usage,
        );
      }
      if (!this.options.stack && this.env[STACK_ENV]) {
        line(
          this.io.stderr,
          `note: --local ignores ${STACK_ENV}=${this.env[STACK_ENV]} (the local environment is not a deployed stack)`,
        );
      }
      if (this.stackName()) {
        throw new CliError(
          '--stack: a --local environment is not a deployed stack; give --stack or --local, not both',
          EXIT_CODES.usage,
        );
      }
      const found = readLocalState(localStatePath(this.env));
      if (!found.ok) throw new CliError(found.problem);
      this.localStateValue = found.state;
    }
    return this.localStateValue;
  }

  private localCatalog(): Promise<Catalog> {
    this.catalogPromise ??= Promise.resolve().then(() => {
      const state = this.localState()!;
      try {
        return parseCatalog(state.catalog);
      } catch (error) {
        if (error instanceof ConfigError) {
          throw new CliError(`the local environment's catalog: ${error.message}`, EXIT_CODES.failed);
        }
        throw error;
      }
    });
    return this.catalogPromise;
  }

  async store(): Promise<DynamoDbDeploymentStore> {
    this.storeInstance ??= new DynamoDbDeploymentStore({
      client: this.dynamodb,
      tableName: await this.tableName(),
    });
    return this.storeInstance;
  }

  /** Checks that a service is in the catalog; the error lists the ones that are. */
  async requireService(service: string): Promise<void> {
    const catalog = await this.catalog();
    if (!Object.hasOwn(catalog.services, service)) {
      throw new CliError(
        `--service: unknown service "${service}"; the catalog has ${Object.keys(catalog.services).join(', ')}`,
        EXIT_CODES.usage,
      );
    }
  }

  /**
   * The ARN of a service's state machine: the stack's, else `<appName>-<service>` found with
   * ListStateMachines.
   */
  async stateMachineArn(service: string): Promise<string> {
    const runbook = await this.runbook();
    if (runbook) {
      const arn = runbook.stateMachines[service];
      if (arn) return arn;
      throw new CliError(
        `stack "${this.stackName()}" has no state machine for service "${service}" (it has ${Object.keys(runbook.stateMachines).join(', ') || 'none'}): deploy the catalog with that service (npx cdk deploy ${this.stackName()})`,
      );
    }
    const name = stateMachineName((await this.catalog()).appName, service);
    let nextToken: string | undefined;
    do {
      const out = await this.aws('ListStateMachines', () =>
        this.sfn.send(new ListStateMachinesCommand({ nextToken })),
      );
      const hit = out?.stateMachines?.find((m) => m.name === name);
      if (hit?.stateMachineArn) return hit.stateMachineArn;
      nextToken = out?.nextToken;
    } while (nextToken);
    throw new CliError(
      `no state machine named ${name} in this account and region; deploy the stack (npx cdk deploy), check --region/--profile, or pass --state-machine-arn`,
    );
  }

  /**
   * Runs one AWS call; failures become a CliError naming the call, the error and what to check.
   * CliErrors pass through.
   */
  async aws<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`${what} failed: ${describeAwsError(error)}`, EXIT_CODES.failed, { cause: error });
    }
  }

  /**
   * Finds a deployment record by deployment id or execution ARN: the ARN names the state machine
   * (hence the service) and the execution name is the deployment id; a bare id is looked up in
   * `service` if given, else in every service of the catalog.
   */
  async findRecord(idOrArn: string, service?: string): Promise<DeploymentRecord> {
    const { deploymentId, service: fromArn } = await this.parseId(idOrArn);
    const store = await this.store();
    const services = service ? [service] : fromArn ? [fromArn] : Object.keys((await this.catalog()).services);
    for (const s of services) {
      const record = await this.aws(`reading ${deploymentId} from ${await this.tableName()}`, () =>
        store.get(s, deploymentId),
      );
      if (record) return record;
    }
    throw new CliError(
      `no deployment ${deploymentId} in table ${await this.tableName()} (looked in ${services.join(', ')})`,
    );
  }

  /** Splits an execution ARN into deployment id and service; a bare id passes through. */
  async parseId(
    idOrArn: string,
  ): Promise<{ deploymentId: string; service: string | null; arn: string | null }> {
    if (!idOrArn.startsWith('arn:')) return { deploymentId: idOrArn, service: null, arn: null };
    // arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:<executionName>
    const parts = idOrArn.split(':');
    if (parts[2] !== 'states' || parts[5] !== 'execution' || parts.length < 8) {
      throw new CliError(
        `"${idOrArn}" is not a Step Functions execution ARN (arn:aws:states:<region>:<account>:execution:<state machine>:<name>)`,
        EXIT_CODES.usage,
      );
    }
    const machine = parts[6]!;
    const deploymentId = parts[7]!;
    const { appName, services } = await this.catalog();
    const service = machine.startsWith(`${appName}-`) ? machine.slice(appName.length + 1) : null;
    return {
      deploymentId,
      service: service && Object.hasOwn(services, service) ? service : null,
      arn: idOrArn,
    };
  }
}

/** The client class of each AWS service the CLI talks to. */
const CLIENT_CLASSES = {
  sfn: SFNClient,
  dynamodb: DynamoDBClient,
  eks: EKSClient,
  cloudwatch: CloudWatchClient,
  sns: SNSClient,
  cloudformation: CloudFormationClient,
  sts: STSClient,
} as const;

/**
 * An SDK client for `--local`: Step Functions and DynamoDB at the local environment's endpoints,
 * any other service at a closed loopback port (nothing leaves the machine); placeholder
 * credentials, which nothing local checks.
 */
export function localClient<K extends keyof AwsClients>(state: LocalApiState, key: K): AwsClients[K] {
  const endpoint =
    key === 'sfn'
      ? state.endpoints.stepFunctions
      : key === 'dynamodb'
        ? state.endpoints.dynamodb
        : CLOSED_LOCAL_ENDPOINT;
  const Client = CLIENT_CLASSES[key] as unknown as new (config: object) => AwsClients[K];
  return new Client({ region: state.region, endpoint, credentials: { ...LOCAL_CREDENTIALS } });
}

/** `Name: message` of an AWS SDK error, with a hint for the usual causes. */
export function describeAwsError(error: unknown): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'Error';
  const message = e?.message ?? String(error);
  const hints: Record<string, string> = {
    CredentialsProviderError: 'no AWS credentials: set AWS_PROFILE or pass --profile',
    ExpiredTokenException: 'the AWS session expired: log in again',
    UnrecognizedClientException: 'the AWS credentials are not valid here',
    AccessDeniedException: 'the AWS identity lacks a permission for this call',
    ResourceNotFoundException: 'check --region, --profile and --table',
  };
  const hint = hints[name] ?? (/region/i.test(message) ? 'pass --region or set AWS_REGION' : undefined);
  return `${name}: ${message}${hint ? ` (${hint})` : ''}`;
}
