import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/powertools.ts';

/** Props of {@link SyncMonitoring}. */
export interface SyncMonitoringProps {
  /** The deployment's name: a metric dimension, and part of the alarm and dashboard names. */
  readonly instanceName: string;
  readonly fn: lambda.IFunction;
  /** The function's timeout, drawn on the duration graph. */
  readonly timeout: Duration;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** Where the alarms send their ALARM and OK notifications. */
  readonly alarmTopic: sns.ITopic;
  /** Age of the oldest queued message, in seconds, that raises the alarm. */
  readonly oldestMessageAgeAlarmSeconds: number;
}

const FIVE_MINUTES = Duration.minutes(5);

type AlarmSpec = Pick<
  cloudwatch.AlarmProps,
  'metric' | 'threshold' | 'evaluationPeriods' | 'comparisonOperator'
>;

/** The name prefix of every alarm of an instance (the alarm topic's policy is scoped to it). */
export function alarmNamePrefix(instanceName: string): string {
  return `TicketDropboxSync-${instanceName}-`;
}

/** The dashboard's name for an instance. */
export function dashboardName(instanceName: string): string {
  return `TicketDropboxSync-${instanceName}`;
}

/**
 * The alarms (DLQ has messages, oldest message too old, function errors, throttles, account-wide failures, the
 * circuit breaker open, blocked records) and the dashboard that shows from the console alone whether files are
 * flowing.
 */
export class SyncMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: SyncMonitoringProps) {
    super(scope, id);
    const { instanceName, fn, queue, deadLetterQueue } = props;
    const dimensions = { service: SERVICE_NAME, instance: instanceName };
    // Alarms take these as they are; the dashboard adds labels (a labelled metric makes an alarm a math alarm).
    const syncMetric = (metricName: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: dimensions,
        statistic: cloudwatch.Stats.SUM,
        period: FIVE_MINUTES,
      });
    // One series per value of the extra dimension, whatever values the function emits.
    const searchByDimension = (metricName: string, dimension: string): cloudwatch.MathExpression =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${dimension},instance,service} MetricName="${metricName}" instance="${instanceName}" service="${SERVICE_NAME}"', 'Sum', 300)`,
        usingMetrics: {},
        label: '',
        period: FIVE_MINUTES,
      });

    const filesExported = syncMetric('FilesExported');
    // Blocked records: RecordsFailed with kind=blocked (each went to the DLQ at once with its reason).
    const blockedRecords = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: 'RecordsFailed',
      dimensionsMap: { ...dimensions, kind: 'blocked' },
      statistic: cloudwatch.Stats.SUM,
      period: FIVE_MINUTES,
    });
    // 1 from the function when the breaker opens, then from the probe on each run while it holds the flow; 0 after.
    const breakerOpen = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: 'BreakerOpen',
      dimensionsMap: dimensions,
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
    });
    const bytesExported = syncMetric('BytesExported');
    const accountWideFailures = syncMetric('AccountWideFailures');
    const perMinuteMax = { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM };
    const queueVisible = queue.metricApproximateNumberOfMessagesVisible(perMinuteMax);
    const queueInFlight = queue.metricApproximateNumberOfMessagesNotVisible(perMinuteMax);
    const dlqVisible = deadLetterQueue.metricApproximateNumberOfMessagesVisible(perMinuteMax);
    const oldestMessageAge = queue.metricApproximateAgeOfOldestMessage(perMinuteMax);
    const errors = fn.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM });
    const throttles = fn.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM });

    const prefix = alarmNamePrefix(instanceName);
    const alarm = (
      id: string,
      name: string,
      description: string,
      options: AlarmSpec & Pick<cloudwatch.AlarmProps, 'treatMissingData'>,
    ): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, id, {
        alarmName: `${prefix}${name}`,
        alarmDescription: description,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      created.addAlarmAction(new actions.SnsAction(props.alarmTopic));
      created.addOkAction(new actions.SnsAction(props.alarmTopic));
      return created;
    };
    const atLeastOne = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    };
    this.alarms = [
      alarm(
        'DeadLetterQueueAlarm',
        'dlq-not-empty',
        'Messages reached the dead-letter queue: inspect them, fix the cause, then `ticket-dropbox-sync redrive`.',
        { metric: dlqVisible, ...atLeastOne },
      ),
      alarm(
        'OldestMessageAlarm',
        'oldest-message-age',
        `A queued file has waited more than ${props.oldestMessageAgeAlarmSeconds} s: the flow is paused, failing or too slow.`,
        {
          metric: oldestMessageAge,
          threshold: props.oldestMessageAgeAlarmSeconds,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        },
      ),
      alarm(
        'FunctionErrorsAlarm',
        'function-errors',
        'The sync function failed as a whole (crash or timeout): see its logs.',
        { metric: errors, ...atLeastOne },
      ),
      alarm(
        'FunctionThrottlesAlarm',
        'function-throttles',
        "The sync function was throttled: the account's concurrency is exhausted.",
        { metric: throttles, ...atLeastOne },
      ),
      alarm(
        'AccountWideFailuresAlarm',
        'account-wide-failures',
        'Every file fails the same way (revoked Dropbox token, full Dropbox, invalid settings): the circuit breaker stops the flow and the files wait in the queue. Fix the cause (`connect`, `config set`); the probe, or `resume`, starts the flow again.',
        { metric: accountWideFailures, ...atLeastOne },
      ),
      alarm(
        'BreakerOpenAlarm',
        'breaker-open',
        'The circuit breaker holds the flow after an account-wide failure: files wait in the queue (kept 14 days). `ticket-dropbox-sync status` says why; the probe starts the flow again once the account is healthy.',
        // Missing data keeps the state: the probe reports every few minutes, 1 while open and 0 once released.
        { metric: breakerOpen, ...atLeastOne, treatMissingData: cloudwatch.TreatMissingData.IGNORE },
      ),
      alarm(
        'BlockedRecordsAlarm',
        'blocked-records',
        'Dropbox refused a file for a reason the rules did not foresee (a path conflict, a malformed path, …): it is in the dead-letter queue with its reason. Fix the cause, then `ticket-dropbox-sync redrive`.',
        { metric: blockedRecords, ...atLeastOne },
      ),
    ];

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: dashboardName(instanceName),
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# ticket-dropbox-sync \`${instanceName}\`\nFiles flow S3 → queue → function → Dropbox. Skips are decisions, not errors; failures retry, then land in the dead-letter queue.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Files exported',
        left: [filesExported.with({ label: 'Files exported' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Bytes exported',
        left: [bytesExported.with({ label: 'Bytes exported' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Files skipped, by reason',
        left: [searchByDimension('FilesSkipped', 'reason')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Records failed, by kind',
        left: [searchByDimension('RecordsFailed', 'kind')],
        right: [
          accountWideFailures.with({ label: 'Account-wide failures' }),
          breakerOpen.with({ label: 'Breaker open' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue depth',
        left: [
          queueVisible.with({ label: 'Waiting' }),
          queueInFlight.with({ label: 'In flight or waiting for a retry' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queue depth',
        left: [dlqVisible.with({ label: 'Dead-letter queue' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function duration',
        left: [
          fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.AVERAGE, label: 'Average' }),
          fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99), label: 'p99' }),
          fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.MAXIMUM, label: 'Maximum' }),
        ],
        leftAnnotations: [{ value: props.timeout.toMilliseconds(), label: 'Timeout', color: '#d62728' }],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function errors, throttles, concurrency',
        left: [errors.with({ label: 'Errors' }), throttles.with({ label: 'Throttles' })],
        right: [
          fn.metric('ConcurrentExecutions', {
            period: FIVE_MINUTES,
            statistic: cloudwatch.Stats.MAXIMUM,
            label: 'Concurrent executions',
          }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Oldest message age',
        left: [oldestMessageAge.with({ label: 'Oldest message age (s)' })],
        leftAnnotations: [{ value: props.oldestMessageAgeAlarmSeconds, label: 'Alarm', color: '#d62728' }],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Warnings, by code',
        left: [searchByDimension('Warnings', 'code')],
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms], width: 12 }),
    );
  }

  /** The console URL of the dashboard (in the commercial partition's console). */
  dashboardUrl(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${this.dashboard.dashboardName}`;
  }
}
