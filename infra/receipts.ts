/**
 * Receipts for the ticket system (issue 14): the function's grant to put its receipts on one EventBridge bus, the
 * variable that names the bus, and the ticket system's read access to the export ledger.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { RECEIPT_SOURCE } from '../lib/receipts.ts';

/** The function's variable naming the receipts bus; absent, the function sends no receipt. */
export const RECEIPTS_BUS_VARIABLE = 'RECEIPTS_EVENT_BUS';

/** A DynamoDB table as the ledger's construct exposes it (only its ARN is needed for the grant). */
export interface LedgerTableRef {
  readonly tableArn: string;
}

/** Props of {@link ExportReceipts}. */
export interface ExportReceiptsProps {
  /** The sync function, which sends the receipts. */
  readonly fn: lambda.Function;
  /**
   * The bus (a name, or the ARN of a bus in this account and Region).
   * @default - receipts are off: no grant, no variable
   */
  readonly eventBus?: string | undefined;
  /** The export ledger, for the reader role. */
  readonly ledgerTable?: LedgerTableRef | undefined;
  /**
   * A role in this account that may `dynamodb:GetItem` the ledger, for the ticket system's look-ups.
   * @default - none
   */
  readonly ledgerReaderRoleArn?: string | undefined;
}

/**
 * Lets the sync function put its receipts on one bus, and the ticket system's role read the ledger. The function's
 * grant names the bus's ARN and only the `ticket-dropbox-sync` source (the `events:source` condition key,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
 */
export class ExportReceipts extends Construct {
  /** The ARN of the receipts bus, or `undefined` when receipts are off. */
  readonly eventBusArn: string | undefined;

  constructor(scope: Construct, id: string, props: ExportReceiptsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (props.eventBus !== undefined) {
      const arn = props.eventBus.startsWith('arn:')
        ? props.eventBus
        : stack.formatArn({
            service: 'events',
            resource: 'event-bus',
            resourceName: props.eventBus,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          });
      this.eventBusArn = arn;
      // One event per export-state change, to this bus only and under the product's own source.
      props.fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'PutReceipts',
          actions: ['events:PutEvents'],
          resources: [arn],
          conditions: { StringEquals: { 'events:source': RECEIPT_SOURCE } },
        }),
      );
      props.fn.addEnvironment(RECEIPTS_BUS_VARIABLE, props.eventBus);
    }

    if (props.ledgerReaderRoleArn !== undefined) {
      if (props.ledgerTable === undefined) {
        throw new Error('ledgerReaderRoleArn needs the export ledger table to grant GetItem on');
      }
      // The ticket system looks up one object's export state on demand: GetItem on the ledger, nothing else.
      const reader = iam.Role.fromRoleArn(this, 'LedgerReader', props.ledgerReaderRoleArn, { mutable: true });
      new iam.Policy(this, 'LedgerReadPolicy', {
        roles: [reader],
        statements: [
          new iam.PolicyStatement({
            sid: 'ReadExportLedger',
            actions: ['dynamodb:GetItem'],
            resources: [props.ledgerTable.tableArn],
          }),
        ],
      });
    }
  }
}
