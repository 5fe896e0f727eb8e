import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { FLOW_CONTROL_ID } from '../lib/aws/dynamodb-flow-control.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/powertools.ts';
import { FUNCTION_BUNDLING, LOCK_FILE, REPO_ROOT } from './function-bundling.ts';
import { acknowledgeWildcardResource } from './nag.ts';

/** The probe function's entry: exports `handler`. */
export const PROBE_ENTRY = join(REPO_ROOT, 'functions', 'breaker-probe', 'handler.ts');

/** The SSM parameter that holds the sync function's event source mapping id, per instance. */
export function mappingIdParameterName(instanceName: string): string {
  return `/ticket-dropbox-sync-deployment/${instanceName}/event-source-mapping-id`;
}

/** Props of {@link CircuitBreaker}. */
export interface CircuitBreakerProps {
  readonly instanceName: string;
  /** The sync function's role: it opens the breaker and disables its own mapping. */
  readonly syncRole: iam.IRole;
  /** The queue-to-function mapping the breaker disables and the probe enables. */
  readonly mapping: lambda.IEventSourceMapping;
  /** The table that holds the control item (the export ledger's). */
  readonly table: dynamodb.ITable;
  /** The settings' SSM path and key: the probe checks the settings and the Dropbox token. */
  readonly settingsPath: string;
  readonly settingsKey: kms.IKey;
  /** @default 30 */
  readonly logRetention?: logs.RetentionDays;
  /** How often the probe looks while the breaker is open. @default Duration.minutes(5) */
  readonly probeInterval?: Duration;
}

/**
 * The circuit breaker of account-wide failures (lib/breaker.ts) in AWS:
 * - the sync function may disable its own event source mapping (`lambda:UpdateEventSourceMapping` on that mapping's
 *   ARN only). The function cannot take the mapping's id from its environment (the mapping depends on the function:
 *   a cycle), so the stack writes the id to an SSM parameter the function reads, and the grant is a separate
 *   `iam.Policy` on the function's role, which the function does not depend on;
 * - the probe, a small function run every few minutes by EventBridge Scheduler, checks the account (settings, token
 *   refresh, space) while the breaker is open and enables the mapping again once it is healthy.
 * Both touch only the control item of the table (`dynamodb:LeadingKeys` = `control#flow`).
 */
export class CircuitBreaker extends Construct {
  readonly mappingIdParameter: ssm.StringParameter;
  readonly probe: NodejsFunction;
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: CircuitBreakerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { instanceName, mapping, table } = props;
    const mappingArn = mapping.eventSourceMappingArn;

    // Where the sync function finds its mapping's id (a String, not a setting: not under the settings path).
    this.mappingIdParameter = new ssm.StringParameter(this, 'MappingIdParameter', {
      parameterName: mappingIdParameterName(instanceName),
      description: `ticket-dropbox-sync ${instanceName}: the sync function's queue event source mapping (the circuit breaker disables it)`,
      stringValue: mapping.eventSourceMappingId,
    });
    const parameterArn = stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: mappingIdParameterName(instanceName).slice(1),
    });
    props.syncRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadMappingId',
        actions: ['ssm:GetParameter'],
        resources: [parameterArn],
      }),
    );
    const switchFlow = new iam.PolicyStatement({
      sid: 'SwitchTheFlow',
      actions: ['lambda:UpdateEventSourceMapping'],
      resources: [mappingArn],
    });
    // A policy of its own: in the role's default policy the function would depend on the mapping, which depends on
    // the function.
    const syncSwitch = new iam.Policy(this, 'SyncFunctionSwitchPolicy', { statements: [switchFlow] });
    syncSwitch.attachToRole(props.syncRole);
    const controlItemOnly = {
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [FLOW_CONTROL_ID] },
    };

    // The probe's logs and role: the control item, the mapping, the settings (and the key of their secrets).
    const logGroup = new logs.LogGroup(this, 'ProbeLogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'ProbeRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `ticket-dropbox-sync ${instanceName}: the circuit breaker's probe`,
    });
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(switchFlow);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteControlItem',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [table.tableArn],
        conditions: controlItemOnly,
      }),
    );
    const instancePath = stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: `ticket-dropbox-sync/${instanceName}`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSettings',
        actions: ['ssm:GetParametersByPath'],
        resources: [instancePath, `${instancePath}/*`],
      }),
    );
    acknowledgeWildcardResource(
      role,
      `${instancePath}/*`,
      "The probe reads every parameter under the instance's settings path, as the sync function does; nothing outside it.",
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptSettings',
        actions: ['kms:Decrypt'],
        resources: [props.settingsKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `ssm.${stack.region}.amazonaws.com` } },
      }),
    );

    // Looks at the account while the breaker is open and starts the flow again once it is healthy.
    this.probe = new NodejsFunction(this, 'Probe', {
      description: `ticket-dropbox-sync ${instanceName}: the circuit breaker's probe`,
      entry: PROBE_ENTRY,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(60),
      role,
      logGroup,
      environment: {
        INSTANCE_NAME: instanceName,
        SETTINGS_PATH: props.settingsPath,
        LEDGER_TABLE: table.tableName,
        EVENT_SOURCE_MAPPING_ID: mapping.eventSourceMappingId,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: FUNCTION_BUNDLING,
    });

    // The scheduler's own role, which may invoke the probe only, and only for this account's schedules.
    const scheduleRole = new iam.Role(this, 'ProbeScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `ticket-dropbox-sync ${instanceName}: runs the circuit breaker's probe`,
    });
    // Runs the probe every few minutes; a run that finds the breaker closed does nothing but report it.
    const target = new targets.LambdaInvoke(this.probe, { retryAttempts: 0, role: scheduleRole });
    this.schedule = new scheduler.Schedule(this, 'ProbeSchedule', {
      description: `ticket-dropbox-sync ${instanceName}: the circuit breaker's probe`,
      schedule: scheduler.ScheduleExpression.rate(props.probeInterval ?? Duration.minutes(5)),
      target,
    });
    acknowledgeWildcardResource(
      scheduleRole,
      `${this.probe.functionArn}:*`,
      "The scheduler's role invokes the probe only; CDK's grantInvoke adds the function's versions and aliases (`:*`).",
    );
  }
}
