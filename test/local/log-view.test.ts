/**
 * The local stack's readable view of the function's log records: one line per outcome whatever the level, other
 * records from the chosen level up, fed by the function's own Powertools Logger.
 */
import { describe, expect, it } from 'vitest';
import { formatLogRecord, LocalLogger, type LogRecord, paletteFor } from '../../tools/local/log-view.ts';

const plain = paletteFor(false);

describe('LocalLogger', () => {
  it("hands every record, with the Logger's keys, to its sink, and so do its children", () => {
    // Prepare
    const records: LogRecord[] = [];
    const logger = new LocalLogger((record) => records.push(record), {
      serviceName: 'ticket-dropbox-sync',
      persistentKeys: { instance: 'default' },
      logLevel: 'INFO',
    });

    // Act
    logger.info('exported', { key: 'tickets/1/a.pdf', decision: 'exported' });
    logger.debug('not at INFO');
    logger.createChild().warn('dropbox retry', { attempt: 2 });

    // Assess
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({
      level: 'INFO',
      message: 'exported',
      service: 'ticket-dropbox-sync',
      instance: 'default',
      key: 'tickets/1/a.pdf',
    });
    expect(records[1]).toMatchObject({ level: 'WARN', message: 'dropbox retry', attempt: 2 });
  });
});

describe('formatLogRecord', () => {
  const exported: LogRecord = {
    level: 'INFO',
    message: 'exported',
    service: 'ticket-dropbox-sync',
    key: 'tickets/1007/Layout.pdf',
    decision: 'exported',
    reason: 'non-final-file',
    dropboxPath: '/Ticket Files/Layout.pdf',
    bytes: 33 * 1024,
    warnings: ['alias-missing'],
  };
  const redrivenSkip: LogRecord = {
    level: 'INFO',
    message: 'skipped',
    messageId: 'm-42',
    decision: 'skipped',
    reason: 'no-event-records',
    reasonMessage: 'The S3 notification holds no event record: nothing to sync.',
  };
  const failed: LogRecord = {
    level: 'ERROR',
    message: 'failed',
    key: 'tickets/9/x.pdf',
    decision: 'failed',
    kind: 'transient',
    reason: 'dropbox-network',
    reasonMessage: 'Dropbox files/upload: network error',
    retryInSeconds: 12,
  };
  const blocked: LogRecord = {
    level: 'ERROR',
    message: 'blocked',
    key: 'tickets/9/y.pdf',
    decision: 'blocked',
    reason: 'path-conflict',
    reasonMessage: 'a folder holds that path',
  };
  const retry: LogRecord = {
    level: 'WARN',
    message: 'dropbox retry',
    service: 'ticket-dropbox-sync',
    function_request_id: 'r-1',
    route: 'files/upload',
    attempt: 2,
  };
  const fileWarning: LogRecord = {
    level: 'WARN',
    message: 'The print ticket file has no publication-alias: it goes to the base folder.',
    key: 'tickets/1007/Layout.pdf',
    warning: 'alias-missing',
  };
  const info: LogRecord = {
    level: 'INFO',
    message: 'settings loaded',
    path: '/ticket-dropbox-sync/default/',
  };

  it('gives every outcome one line at every level, a message without a key included', () => {
    // Act
    const lines = [exported, redrivenSkip, failed, blocked].map((record) =>
      formatLogRecord(record, 'silent', plain),
    );

    // Assess
    expect(lines).toEqual([
      'exported tickets/1007/Layout.pdf → /Ticket Files/Layout.pdf (33.0 KiB) [alias-missing]',
      'skipped  message m-42 (no-event-records: The S3 notification holds no event record: nothing to sync.)',
      'failed   tickets/9/x.pdf (transient dropbox-network: Dropbox files/upload: network error; retry in 12 s)',
      'blocked  tickets/9/y.pdf (path-conflict: a folder holds that path)',
    ]);
  });

  it('shows other records from the chosen level up, with their own attributes and without the standard keys', () => {
    // Act
    const atWarn = [retry, fileWarning, info].map((record) => formatLogRecord(record, 'warn', plain));
    const atInfo = [retry, fileWarning, info].map((record) => formatLogRecord(record, 'info', plain));
    const atError = formatLogRecord(retry, 'error', plain);

    // Assess
    expect(atWarn).toEqual(['warn     dropbox retry route=files/upload attempt=2', undefined, undefined]);
    expect(atInfo).toEqual([
      'warn     dropbox retry route=files/upload attempt=2',
      'warn     The print ticket file has no publication-alias: it goes to the base folder. key=tickets/1007/Layout.pdf warning=alias-missing',
      'info     settings loaded path=/ticket-dropbox-sync/default/',
    ]);
    expect(atError).toBeUndefined();
  });
});
