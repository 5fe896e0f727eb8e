import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * The export ledger: one DynamoDB item per S3 object (partition key `id` = `s3://<bucket>/<key>`), the single source
 * of truth for what was exported for that object and where (lib/ledger.ts, docs/architecture.md). On-demand, with
 * point-in-time recovery, encrypted at rest with the AWS managed key, protected from deletion and retained with its
 * data when the stack goes: losing it would make every later event re-decide objects from scratch.
 */
export class ExportLedger extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // One item per object, written a few times per event: on-demand costs nothing while no file arrives.
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The AWS managed key (aws/dynamodb): encryption at rest that CloudTrail shows, with no key to administer;
      // DynamoDB uses it on the callers' behalf, so no kms grant is needed.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * Lets the sync function read and write single items: `GetItem` (strongly consistent reads) and `UpdateItem`
   * (every write is a conditional update). No `PutItem`, `DeleteItem`, query, scan or batch: the function needs none.
   */
  grantSyncAccess(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteExportLedger',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
    );
  }
}
