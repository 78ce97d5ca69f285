import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CREDENTIALS_TABLE, TABLE } from '../../lambdas/config/resources';

export interface QueueTableProps {
  /** @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single table: keys, TTL and indexes all from `TABLE`. On-demand billing (traffic is bursty),
 * point-in-time recovery on, every index KEYS_ONLY (see `TABLE` for why).
 */
export class QueueTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: QueueTableProps = {}) {
    super(scope, id);
    const S = dynamodb.AttributeType.STRING;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: S },
      sortKey: { name: TABLE.sortKey, type: S },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE.ttlAttribute,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    for (const index of Object.values(TABLE.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: S },
        sortKey: { name: index.sortKey, type: S },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      });
    }
  }
}

/**
 * The credentials table (API keys): keys from `CREDENTIALS_TABLE`, no index, on-demand, point-in-time
 * recovery. Only the authorizer (GetItem) and the key routes have a grant on it.
 */
export class CredentialsTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: QueueTableProps = {}) {
    super(scope, id);
    const S = dynamodb.AttributeType.STRING;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: CREDENTIALS_TABLE.partitionKey, type: S },
      sortKey: { name: CREDENTIALS_TABLE.sortKey, type: S },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
  }
}
