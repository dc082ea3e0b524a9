/**
 * What the AWS-facing commands share: the global flags, the catalog, the AWS clients (honouring
 * `--region`/AWS_REGION and `--profile`/AWS_PROFILE), the deployments table and the lookups of a
 * deployment by id or execution ARN.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EKSClient } from '@aws-sdk/client-eks';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDbDeploymentStore } from '../functions/adapters/aws/dynamodb-store.js';
import { type Catalog, type CatalogInput, parseCatalog } from '../functions/domain/config.js';
import { ConfigError } from '../functions/domain/errors.js';
import type { DeploymentRecord } from '../functions/domain/record.js';
import { stateMachineName, tableName } from '../infra/names.js';
import { LOCAL_CREDENTIALS, type LocalApiState, localStatePath, readLocalState } from '../local/api-state.js';
import { type AwsClients, CliError, type CliIo, EXIT_CODES, realSleep } from './io.js';

/** Flags every command accepts (commander puts them on the root program). */
export interface GlobalOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly config?: string;
  readonly table?: string;
  /** Talk to the running local environment (its state file) instead of AWS. */
  readonly local?: boolean;
}

/** Where `--local` sends the clients of services the local environment does not serve: nowhere. */
const CLOSED_LOCAL_ENDPOINT = 'http://127.0.0.1:1';

/** The catalog file used when `--config` is not given: ./tps.config.ts, else the one of this repository. */
export function defaultConfigPath(cwd = process.cwd()): string {
  const local = resolve(cwd, 'tps.config.ts');
  if (existsSync(local)) return local;
  return new URL('../tps.config.ts', import.meta.url).pathname;
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
  private catalogPromise: Promise<Catalog> | undefined;
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

  catalog(): Promise<Catalog> {
    if (this.options.local) return this.localCatalog();
    this.catalogPromise ??= this.io.catalog
      ? Promise.resolve().then(() => parseCatalog(this.io.catalog as CatalogInput))
      : loadCatalog(this.options.config ?? defaultConfigPath());
    return this.catalogPromise;
  }

  private clientConfig() {
    const region = this.options.region ?? this.env.AWS_REGION ?? this.env.AWS_DEFAULT_REGION;
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

  /** The deployments table: `--table`, else the local environment's, else `<appName>-deployments`. */
  async tableName(): Promise<string> {
    return this.options.table ?? this.localState()?.tableName ?? tableName((await this.catalog()).appName);
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

  /** The ARN of a service's state machine (`<appName>-<service>`), found with ListStateMachines. */
  async stateMachineArn(service: string): Promise<string> {
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
