/**
 * ticket-dropbox-sync's public entry: the export rules, the settings parser, the S3 event reader, the export
 * ledger's read model (`fromLedgerItem`, and `readExportState` / `fetchExportState`, the typed reader of one object's
 * item from a `GetItem` result) and the receipts' types, with no AWS or Dropbox dependency. The CLI's `explain`, the
 * sync function and any ticket-system UI use the same functions.
 */
export {
  buildDropboxPath,
  FILE_NAME_TOKENS,
  type FileNameToken,
  isRefusedName,
  normaliseBaseFolder,
  REFUSED_NAMES,
  renderFileName,
  sanitiseComponent,
} from './dropbox-path.ts';
export { type FailureKind, SyncError } from './errors.ts';
export {
  type ExportState,
  type ExportStateGetItemInput,
  exportStateKey,
  fetchExportState,
  type GetItemResultLike,
  readExportState,
} from './export-state.ts';
export { describeExportState, type ExportedFile, type ExportStatus } from './export-status.ts';
export {
  compareSequencers,
  fileOwnershipId,
  fromLedgerItem,
  LEDGER_ATTRIBUTES,
  type LedgerClaim,
  type LedgerDropboxFile,
  type LedgerExport,
  type LedgerFailure,
  type LedgerItem,
  type LedgerObjectVersion,
  type LedgerRecord,
  type LedgerState,
  type LedgerTicket,
  ledgerId,
  normalizeSequencer,
} from './ledger.ts';
export {
  RECEIPT_DETAIL_TYPES,
  RECEIPT_SOURCE,
  type ReceiptDetail,
  type ReceiptDropboxFile,
  type ReceiptState,
} from './receipts.ts';
export { decideExport, type ExportDecision, evaluateExport, isFinalFile, type Reason } from './rules.ts';
export {
  decodeS3Key,
  MalformedEventError,
  type ParsedMessage,
  parseS3Message,
  type S3ObjectEvent,
} from './s3-event.ts';
export {
  type DropboxCredentials,
  type ExportByStatus,
  InvalidSettingsError,
  isSecretSetting,
  type OnConflict,
  type PathRootMode,
  parseRuleSettings,
  parseSettings,
  type RawSettings,
  RULE_SETTING_NAMES,
  type RuleSettings,
  SETTING_DEFINITIONS,
  type SettingDefinition,
  type SettingProblem,
  type Settings,
  validateSetting,
} from './settings.ts';
export {
  decodeRfc2047,
  encodeRfc2047,
  FILE_STATUSES,
  type FileStatus,
  type ObjectDescription,
  readTicketFile,
  TICKET_TYPES,
  type TicketFile,
  type TicketType,
} from './ticket-file.ts';
