/**
 * The local stack's view of the function's logs. The function logs JSON lines through its one Powertools Logger, as
 * in Lambda; locally the same Logger (a subclass that hands each record to a sink instead of printing its JSON) feeds
 * a readable view: every outcome (a record with a `decision`: exported, skipped, failed, …) gets one line whatever the
 * level, and every other record is shown from the chosen level up, as `level message key=value …`.
 */

import type { LogItem } from '@aws-lambda-powertools/logger';
import { Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';

/** The levels of `npm start -- --log-level`, quietest last. */
export const LOG_LEVEL_NAMES = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** A level of the local view. */
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

/** One log record as the function's Logger produced it (the attributes of its JSON line). */
export type LogRecord = Readonly<Record<string, unknown>>;

/** Receives every record the function logs. */
export type LogSink = (record: LogRecord) => void;

/** True when `value` names a level of the local view. */
export function isLogLevelName(value: string): value is LogLevelName {
  return (LOG_LEVEL_NAMES as readonly string[]).includes(value);
}

/**
 * The function's Logger for the local stack: the same Powertools Logger (same keys, same levels, same context per
 * invocation), whose records go to `sink` instead of stdout. Overriding `printLog` and `createLogger` is the
 * extension Powertools documents for subclasses.
 */
export class LocalLogger extends Logger {
  readonly #sink: LogSink;

  constructor(sink: LogSink, options?: ConstructorOptions) {
    super(options);
    this.#sink = sink;
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    this.#sink(log.getAttributes());
  }

  protected override createLogger(options?: ConstructorOptions): LocalLogger {
    return new LocalLogger(this.#sink, options);
  }
}

/**
 * The Logger level that feeds the view at `level`: outcomes are logged at INFO (and failures at ERROR), so the Logger
 * never logs above INFO, whatever the view shows.
 */
export function loggerLevelFor(level: LogLevelName): 'DEBUG' | 'INFO' {
  return level === 'debug' ? 'DEBUG' : 'INFO';
}

/** ANSI colours, or none. */
export interface Palette {
  readonly green: string;
  readonly yellow: string;
  readonly red: string;
  readonly dim: string;
  readonly reset: string;
}

/** The palette for a terminal, or none for a pipe. */
export function paletteFor(isTty: boolean): Palette {
  return isTty
    ? { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', dim: '\x1b[2m', reset: '\x1b[0m' }
    : { green: '', yellow: '', red: '', dim: '', reset: '' };
}

const MIB = 1024 * 1024;

/** `180.0 KiB`, `200.0 MiB`, `0 B`. */
export function formatBytes(bytes: number): string {
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

const LEVEL_RANK: Readonly<Record<string, number>> = {
  TRACE: 0,
  DEBUG: 0,
  INFO: 1,
  WARN: 2,
  ERROR: 3,
  CRITICAL: 3,
};
const VIEW_RANK: Readonly<Record<LogLevelName, number>> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** Keys every Powertools record carries: context, not news. */
const STANDARD_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'instance',
  'sampling_rate',
  'xray_trace_id',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'function_version',
  'lambda_function_name',
]);

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function showValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'string') return /^[^\s"=]+$/u.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null && 'message' in value && 'name' in value) {
    // An error as Powertools records it ({ name, location, message, stack }): its name and message are enough.
    return `${String(value.name)}: ${String(value.message)}`;
  }
  return JSON.stringify(value) ?? String(value);
}

/** The one line of an outcome record: what happened to which object, and why. */
function formatOutcome(record: LogRecord, palette: Palette): string {
  const decision = String(record.decision);
  const key = text(record.key);
  const subject = key ?? `message ${text(record.messageId) ?? '?'}`;
  const reason = text(record.reason);
  const reasonMessage = text(record.reasonMessage);
  const warnings = Array.isArray(record.warnings) && record.warnings.length > 0 ? record.warnings : [];
  const warned =
    warnings.length > 0 ? ` ${palette.yellow}[${warnings.map(String).join(', ')}]${palette.reset}` : '';
  if (decision === 'exported') {
    const size = typeof record.bytes === 'number' ? ` (${formatBytes(record.bytes)})` : '';
    return `${palette.green}exported${palette.reset} ${subject} → ${text(record.dropboxPath) ?? '?'}${size}${warned}`;
  }
  if (decision === 'skipped') {
    return `${palette.dim}skipped ${palette.reset} ${subject} ${palette.dim}(${reason ?? '?'}: ${reasonMessage ?? ''})${palette.reset}${warned}`;
  }
  if (decision === 'failed') {
    const retry = typeof record.retryInSeconds === 'number' ? `; retry in ${record.retryInSeconds} s` : '';
    const kind = text(record.kind) ?? '?';
    return `${palette.red}failed  ${palette.reset} ${subject} (${kind} ${reason ?? '?'}: ${reasonMessage ?? ''}${retry})`;
  }
  // A decision this view does not know yet (blocked, …): shown with its reason all the same.
  return `${palette.red}${decision.padEnd(8)}${palette.reset} ${subject} (${reason ?? '?'}: ${reasonMessage ?? ''})`;
}

/**
 * The readable line of one record at view level `level`, or `undefined` when it is not shown: outcomes always,
 * other records from `level` up, with their own attributes as `key=value`.
 */
export function formatLogRecord(
  record: LogRecord,
  level: LogLevelName,
  palette: Palette,
): string | undefined {
  if (text(record.decision) !== undefined) return formatOutcome(record, palette);
  const recordLevel = String(record.level ?? 'INFO').toUpperCase();
  // A warning of one file (alias-missing, …) is already on its outcome line as a code: its sentence shows from info.
  // Powertools Metrics warns of nothing to publish when the local pollers' concurrent invocations share one Metrics
  // object (each Lambda instance has its own) and one flushed the other's: an artifact of the local stack, debug.
  const rank =
    text(record.warning) !== undefined
      ? LEVEL_RANK.INFO
      : String(record.message).startsWith('No application metrics to publish')
        ? LEVEL_RANK.DEBUG
        : LEVEL_RANK[recordLevel];
  if ((rank ?? 1) < VIEW_RANK[level]) return undefined;
  const colour =
    recordLevel === 'ERROR' || recordLevel === 'CRITICAL'
      ? palette.red
      : recordLevel === 'WARN'
        ? palette.yellow
        : palette.dim;
  const details = Object.entries(record)
    .filter(([name, value]) => !STANDARD_KEYS.has(name) && value !== undefined)
    .map(([name, value]) => `${name}=${showValue(value)}`)
    .join(' ');
  const message = typeof record.message === 'string' ? record.message : showValue(record.message);
  return `${colour}${recordLevel.toLowerCase().padEnd(8)}${palette.reset} ${message}${details === '' ? '' : ` ${palette.dim}${details}${palette.reset}`}`;
}
