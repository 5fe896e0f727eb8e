/** The receipts in the stack: `events:PutEvents` on the named bus only, the bus variable, and turning them off. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { readDeploymentPropsFromContext } from '../../infra/context.ts';
import { ExportReceipts, RECEIPTS_BUS_VARIABLE } from '../../infra/receipts.ts';
import { InvalidDeploymentPropsError, resolveDeploymentSettings } from '../../infra/stack-settings.ts';
import {
  actionsOf,
  allStatements,
  removeSynthOutputs,
  type SynthesizedStack,
  synthStack,
} from './synth-helpers.ts';

function eventsStatements(synth: SynthesizedStack) {
  return allStatements(synth.template).filter(({ statement }) =>
    actionsOf(statement).some((action) => action.startsWith('events:')),
  );
}

function functionVariables(synth: SynthesizedStack): Record<string, unknown> {
  const functions = synth.template.findResources('AWS::Lambda::Function', {
    Properties: { Handler: 'index.handler' },
  });
  const [sync] = Object.values(functions).filter((resource) =>
    JSON.stringify(resource.Properties?.Environment ?? {}).includes('SETTINGS_PATH'),
  );
  return (sync?.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
}

const busArn = (name: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':events:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:event-bus/${name}`,
    ],
  ],
});

describe('receipts in the stack', () => {
  afterAll(() => {
    removeSynthOutputs();
  });

  it("lets the function put events on the account's default bus only, under its own source, by default", () => {
    // Act
    const synth = synthStack();

    // Assess
    const statements = eventsStatements(synth);
    expect(statements).toHaveLength(1);
    expect(statements[0]?.statement).toEqual({
      Sid: 'PutReceipts',
      Effect: 'Allow',
      Action: 'events:PutEvents',
      Resource: busArn('default'),
      Condition: { StringEquals: { 'events:source': 'ticket-dropbox-sync' } },
    });
    expect(functionVariables(synth)[RECEIPTS_BUS_VARIABLE]).toBe('default');
    synth.template.hasOutput('ReceiptsEventBusArn', { Value: busArn('default') });
  });

  it('scopes the grant to the bus the prop names, by name, and keeps cdk-nag clean', () => {
    // Act
    const synth = synthStack({ receiptsEventBus: 'ticket-system' });
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.app);

    // Assess
    expect(eventsStatements(synth).map(({ statement }) => statement.Resource)).toEqual([
      busArn('ticket-system'),
    ]);
    expect(functionVariables(synth)[RECEIPTS_BUS_VARIABLE]).toBe('ticket-system');
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('takes a bus ARN as it is', () => {
    // Prepare
    const arn = 'arn:aws:events:eu-west-1:123456789012:event-bus/tickets-shared';
    const stack = new Stack(new App(), 'Bare');
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => undefined;'),
    });

    // Act
    const receipts = new ExportReceipts(stack, 'Receipts', { fn, eventBus: arn });
    const template = Template.fromStack(stack);

    // Assess
    expect(receipts.eventBusArn).toBe(arn);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'events:PutEvents', Resource: arn })] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { [RECEIPTS_BUS_VARIABLE]: arn } },
    });
  });

  it("grants nothing on EventBridge with receipts off, and the ticket system's role GetItem on the ledger only", () => {
    // Prepare
    const roleArn = 'arn:aws:iam::123456789012:role/ticketing/ticket-system-reader';

    // Act
    const synth = synthStack({ receiptsEventBus: false, ledgerReaderRoleArn: roleArn });
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.app);

    // Assess
    expect(eventsStatements(synth)).toEqual([]);
    expect(functionVariables(synth)).not.toHaveProperty(RECEIPTS_BUS_VARIABLE);
    expect(Object.keys(synth.template.findOutputs('ReceiptsEventBusArn'))).toEqual([]);
    const policies = synth.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: ['ticket-system-reader'] },
    });
    expect(Object.values(policies).map((policy) => policy.Properties.PolicyDocument.Statement)).toEqual([
      [
        {
          Sid: 'ReadExportLedger',
          Effect: 'Allow',
          Action: 'dynamodb:GetItem',
          Resource: synth.stack.resolve(synth.stack.exportLedger.table.tableArn),
        },
      ],
    ]);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
  });

  it('rejects a bus or role that cannot be one, with the prop and what it accepts', () => {
    // Act
    const error = (() => {
      try {
        resolveDeploymentSettings({ receiptsEventBus: 'my bus!', ledgerReaderRoleArn: 'ticket-system' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();

    // Assess
    expect(error).toBeInstanceOf(InvalidDeploymentPropsError);
    expect((error as InvalidDeploymentPropsError).problems).toEqual([
      "receiptsEventBus must be an event bus name (letters, digits, '.', '-', '_', '/'), an event bus ARN, or false to turn receipts off, got 'my bus!'",
      "ledgerReaderRoleArn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got 'ticket-system'",
    ]);
  });

  it('reads the bus from context, false and "false" turning receipts off', () => {
    // Act
    const read = (value: unknown) =>
      readDeploymentPropsFromContext(new App({ context: { receiptsEventBus: value } }).node).receiptsEventBus;

    // Assess
    expect(read('ticket-system')).toBe('ticket-system');
    expect(read(false)).toBe(false);
    expect(read('false')).toBe(false);
    expect(read('')).toBeUndefined();
    expect(() => read(42)).toThrow(InvalidDeploymentPropsError);
  });
});
