/**
 * The export rules: whether a ticket file goes to Dropbox, why, and where. Pure: no AWS, no Dropbox, no secret.
 */
import { buildDropboxPath } from './dropbox-path.ts';
import { type ExportByStatus, parseRuleSettings, type RawSettings, type RuleSettings } from './settings.ts';
import { type ObjectDescription, readTicketFile, type TicketFile } from './ticket-file.ts';

/** Why a decision was taken: a stable kebab-case `code` (logs, metrics, CLI) and a human sentence. */
export interface Reason {
  readonly code: string;
  readonly message: string;
}

/** The outcome of the rules for one object. */
export interface ExportDecision {
  readonly export: boolean;
  readonly reason: Reason;
  /** Where the file goes when exported, else `null`. */
  readonly dropboxPath: string | null;
  /** Things worth a log line and a metric that did not stop the decision (`alias-missing`, `unknown-file-status`). */
  readonly warnings: readonly Reason[];
  /** Present when the object is a ticket file. */
  readonly file?: TicketFile | undefined;
}

/**
 * True for a final file: print or digital-ad with status `final`, digital-media with `ready-to-deliver`.
 * Service tickets have no final mark.
 */
export function isFinalFile(file: TicketFile): boolean {
  switch (file.ticketType) {
    case 'print':
    case 'digital-ad':
      return file.fileStatus === 'final';
    case 'digital-media':
      return file.fileStatus === 'ready-to-deliver';
    case 'service':
      return false;
  }
}

function describeStatus(file: TicketFile): string {
  const status =
    file.fileStatusSource === 'default' ? 'no file-status (non-final)' : `file-status ${file.fileStatus}`;
  const finalMark = file.ticketType === 'digital-media' ? 'ready-to-deliver' : 'final';
  const note =
    file.fileStatus !== 'non-final' && !isFinalFile(file)
      ? `; a ${file.ticketType} ticket's final mark is ${finalMark}`
      : '';
  return `${file.ticketType} ticket, ${status}${note}`;
}

function decideByStatus(
  file: TicketFile,
  exportByStatus: ExportByStatus,
): { export: boolean; reason: Reason } {
  if (file.ticketType === 'service') {
    return {
      export: true,
      reason: {
        code: 'service-ticket',
        message: `Export: service tickets have no final mark, so their files export under every export-by-status (here ${exportByStatus}).`,
      },
    };
  }
  const described = describeStatus(file);
  if (isFinalFile(file)) {
    return exportByStatus === 'non-final'
      ? {
          export: false,
          reason: {
            code: 'final-excluded',
            message: `Skip: the file is final (${described}) and export-by-status is non-final, which exports only files not yet final.`,
          },
        }
      : {
          export: true,
          reason: {
            code: 'final-file',
            message: `Export: the file is final (${described}) and export-by-status is ${exportByStatus}.`,
          },
        };
  }
  return exportByStatus === 'final'
    ? {
        export: false,
        reason: {
          code: 'non-final-excluded',
          message: `Skip: the file is not final (${described}) and export-by-status is final, which exports only final files.`,
        },
      }
    : {
        export: true,
        reason: {
          code: 'non-final-file',
          message: `Export: the file is not final (${described}) and export-by-status is ${exportByStatus}.`,
        },
      };
}

/**
 * Applies the export rules to an object under parsed rule settings: the decision, its reason, the Dropbox path
 * (when exported) and the warnings. Used by the function, which has the settings parsed already.
 */
export function evaluateExport(object: ObjectDescription, rules: RuleSettings): ExportDecision {
  const read = readTicketFile(object);
  if (!read.ok) return { export: false, reason: read.reason, dropboxPath: null, warnings: [] };
  const { file, warnings } = read;
  const decision = decideByStatus(file, rules.exportByStatus);
  if (!decision.export) return { export: false, reason: decision.reason, dropboxPath: null, warnings, file };
  const target = buildDropboxPath(file, rules);
  if (!target.ok) return { export: false, reason: target.reason, dropboxPath: null, warnings, file };
  return {
    export: true,
    reason: decision.reason,
    dropboxPath: target.path,
    warnings: [...warnings, ...target.warnings],
    file,
  };
}

/**
 * The public decision function: whether `{ key, metadata, tags }` exports under the settings, why, and where.
 * `settings` is the flat parameter map (`export-by-status`, …); missing entries take their defaults and
 * credential entries are ignored.
 * @throws InvalidSettingsError when a rule setting is invalid.
 * @example
 * decideExport(
 *   { key: 'tickets/1234/Proof.pdf', metadata: { 'ticket-type': 'print' } },
 *   { 'export-by-status': 'all' },
 * ); // { export: true, reason: { code: 'non-final-file', … }, dropboxPath: '/Ticket Files/Proof.pdf', … }
 */
export function decideExport(object: ObjectDescription, settings: RawSettings): ExportDecision {
  return evaluateExport(object, parseRuleSettings(settings));
}
