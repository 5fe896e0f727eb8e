/** The function's Logger and Metrics (Powertools), and their adapters to the sync's observability seams. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SyncMetrics } from './observability.ts';

/** Service name of the logs and metrics. */
export const SERVICE_NAME = 'ticket-dropbox-sync';
/** CloudWatch namespace of the metrics (the stack's alarms and dashboard read it). */
export const METRICS_NAMESPACE = 'TicketDropboxSync';

/** The one configured Logger. Log level from `POWERTOOLS_LOG_LEVEL` (default INFO). */
export function createLogger(instance: string): Logger {
  return new Logger({ serviceName: SERVICE_NAME, persistentKeys: { instance } });
}

/**
 * The one configured Metrics, with the `instance` dimension on every metric. Its own warnings (an invalid dimension,
 * nothing to publish) go through `logger` when given, as structured log lines, rather than as bare console text.
 */
export function createMetrics(instance: string, logger?: Logger): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICE_NAME,
    defaultDimensions: { instance },
    ...(logger === undefined ? {} : { logger }),
  });
}

/** Adapts Powertools Metrics to {@link SyncMetrics}. */
export function createSyncMetrics(metrics: Metrics): SyncMetrics {
  const withDimension = (name: string, dimension: string, value: string): void => {
    const single = metrics.singleMetric();
    single.addDimension(dimension, value);
    single.addMetric(name, MetricUnit.Count, 1);
  };
  return {
    exported(bytes) {
      metrics.addMetric('FilesExported', MetricUnit.Count, 1);
      metrics.addMetric('BytesExported', MetricUnit.Bytes, bytes);
    },
    skipped(reasonCode) {
      withDimension('FilesSkipped', 'reason', reasonCode);
    },
    failed(kind) {
      withDimension('RecordsFailed', 'kind', kind);
      if (kind === 'account') metrics.addMetric('AccountWideFailures', MetricUnit.Count, 1);
    },
    warned(code) {
      withDimension('Warnings', 'code', code);
    },
  };
}
