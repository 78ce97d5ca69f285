/**
 * The two DynamoDB tables, each built from its definition in lambdas/config/resources.ts (the same
 * definitions the local runtime provisions from): on-demand billing (traffic is bursty),
 * point-in-time recovery on, every index KEYS_ONLY (see `TABLE` for why).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CREDENTIALS_TABLE, TABLE, type TableDefinition } from '../../lambdas/config/resources';

export interface QueueTableProps {
  /** @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

/** A table as `definition` says, with the settings both tables share. */
class DefinedTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, definition: TableDefinition, props: QueueTableProps) {
    super(scope, id);
    const S = dynamodb.AttributeType.STRING;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: definition.partitionKey, type: S },
      sortKey: { name: definition.sortKey, type: S },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(definition.ttlAttribute ? { timeToLiveAttribute: definition.ttlAttribute } : {}),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    for (const index of Object.values(definition.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: S },
        sortKey: { name: index.sortKey, type: S },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      });
    }
  }
}

/** The queue table: batches, members, counters, samples; keys, TTL and indexes from `TABLE`. */
export class QueueTable extends DefinedTable {
  constructor(scope: Construct, id: string, props: QueueTableProps = {}) {
    super(scope, id, TABLE, props);
  }
}

/**
 * The credentials table (API keys), from `CREDENTIALS_TABLE`: no index, no TTL. Only the
 * authorizer (GetItem) and the key routes have a grant on it.
 */
export class CredentialsTable extends DefinedTable {
  constructor(scope: Construct, id: string, props: QueueTableProps = {}) {
    super(scope, id, CREDENTIALS_TABLE, props);
  }
}
