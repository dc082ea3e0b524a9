import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../../functions/adapters/aws/dynamodb-store/items.js';

/**
 * Key schema and indexes of the deployments table. The DynamoDB adapter owns them
 * (functions/adapters/aws/dynamodb-store.ts builds its items and the local table from the same
 * constants), so the stack cannot drift from the code that reads and writes the table.
 */
export const TABLE_SCHEMA = TABLE_KEYS;

/** Props of {@link DeploymentTable}. */
export interface DeploymentTableProps {
  /** Physical table name (the CLI finds the table by it). */
  readonly tableName: string;
  /** Customer-managed key that encrypts the table. */
  readonly encryptionKey: kms.IKey;
  /**
   * What happens to the table when the stack is deleted. The table is the audit record of every
   * release, so it is kept by default.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The deployments table: one item per deployment, the per-service lock and the rollback plans.
 * On-demand capacity (a handful of writes per release), point-in-time recovery, KMS encryption.
 */
export class DeploymentTable extends Construct {
  readonly table: dynamodb.Table;
  /** Names of the table's secondary indexes (local and global). */
  readonly indexNames: readonly string[];

  constructor(scope: Construct, id: string, props: DeploymentTableProps) {
    super(scope, id);
    if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(props.tableName)) {
      throw new Error(
        `DeploymentTable: tableName must be 3-255 characters of a-z, A-Z, 0-9, _ - . (got "${props.tableName}"). Change appName in tps.config.ts.`,
      );
    }
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: attribute(TABLE_KEYS.partitionKey),
      sortKey: attribute(TABLE_KEYS.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.indexNames = [
      ...TABLE_KEYS.localIndexes.map((i) => i.indexName),
      ...(TABLE_KEYS.globalIndexes as readonly GlobalIndexKeys[]).map((i) => i.indexName),
    ];
    for (const index of TABLE_KEYS.localIndexes) {
      this.table.addLocalSecondaryIndex({
        indexName: index.indexName,
        sortKey: attribute(index.sortKey),
        projectionType: projection(index.projection),
      });
    }
    for (const index of TABLE_KEYS.globalIndexes as readonly GlobalIndexKeys[]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
        projectionType: projection(index.projection),
      });
    }
  }
}

interface KeyAttribute {
  readonly name: string;
  readonly type: string;
}

/** The shape a global index of TABLE_KEYS takes (none today). */
interface GlobalIndexKeys {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly projection: string;
}

const ATTRIBUTE_TYPES: Readonly<Record<string, dynamodb.AttributeType>> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

function attribute(key: KeyAttribute): dynamodb.Attribute {
  const type = ATTRIBUTE_TYPES[key.type];
  if (!type) {
    throw new Error(
      `DeploymentTable: key attribute ${key.name} has type "${key.type}"; DynamoDB keys are S, N or B. Fix TABLE_KEYS in functions/adapters/aws/dynamodb-store.ts.`,
    );
  }
  return { name: key.name, type };
}

function projection(kind: string): dynamodb.ProjectionType {
  const types: Readonly<Record<string, dynamodb.ProjectionType>> = {
    ALL: dynamodb.ProjectionType.ALL,
    KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
  };
  const type = types[kind];
  if (!type) {
    throw new Error(
      `DeploymentTable: index projection "${kind}" is not supported here (ALL or KEYS_ONLY). Fix TABLE_KEYS in functions/adapters/aws/dynamodb-store.ts.`,
    );
  }
  return type;
}
