/**
 * The human lines of an object's export status (lib/export-status.ts), shared by `status --key` and `explain`:
 * where the file really is in Dropbox, which version went there and when, or the last skip, failure or block.
 */
import type { ExportStatus } from '../lib/export-status.ts';
import { formatBytes } from './format.ts';

/** How the lines are laid out. */
export interface StatusLayout {
  /** The labels of the state line and the file line (10 characters each, with the colon and padding). */
  readonly state: string;
  readonly file: string;
  /** A reason code the output shows already (`explain`'s decision): its message is not repeated. */
  readonly shownReason?: string | undefined;
}

const DEFAULT_LAYOUT: StatusLayout = { state: 'State:    ', file: 'Dropbox:  ' };

/** Lines labelled in a 10-character column (`State:    …`), as `explain` lays its output out. */
export function describeExportStatus(status: ExportStatus, labels: StatusLayout = DEFAULT_LAYOUT): string[] {
  const lines: string[] = [];
  const reason = status.reason === undefined ? '' : ` (${status.reason.code})`;
  // An export's time is the file's (the Version line); a skip, failure or block is dated by its state.
  const at = status.at === undefined || status.state === 'exported' ? '' : ` at ${status.at}`;
  if (status.state === 'none') {
    lines.push(`${labels.state} no ledger record. ${status.summary.replace(/^No ledger record: /, '')}`);
  } else {
    lines.push(`${labels.state} ${status.state}${at}${reason}`);
    if (status.reason !== undefined && status.reason.code !== labels.shownReason) {
      lines.push(`Why:       ${status.reason.message}`);
    }
  }
  const file = status.file;
  if (file !== undefined) {
    const kept = status.state === 'exported' ? '' : ' (an earlier export, left in Dropbox)';
    const renamed = file.renamed
      ? file.adopted
        ? `; asked for ${file.targetPath}`
        : `; asked for ${file.targetPath}, which held another file, so Dropbox renamed it`
      : '';
    lines.push(`${labels.file} ${file.path}${kept}${renamed}`);
    lines.push(
      `           id ${file.id}, rev ${file.rev}, ${formatBytes(file.size)} (${file.size} bytes), content hash ${file.contentHash}`,
    );
    if (file.adopted) {
      lines.push(
        '           identical content was already at the path: Dropbox wrote nothing, the ledger adopted it',
      );
    }
    const version = file.versionId === undefined ? '' : `, version id ${file.versionId}`;
    const current = file.current ? '' : ' (an older version: the newest is not exported yet)';
    lines.push(`Version:   ETag ${file.eTag}${version}, exported ${file.exportedAt}${current}`);
  }
  const ticket = status.ticket;
  if (ticket !== undefined) {
    const details = [ticket.type, ticket.fileStatus].filter((value) => value !== undefined).join(', ');
    lines.push(`Ticket:    ${ticket.id ?? '(no ticket-id)'}${details === '' ? '' : ` (${details})`}`);
  }
  if (status.failure !== undefined) {
    const failure = status.failure;
    lines.push(
      `Failure:   at ${failure.at}: ${failure.message} (${failure.kind}, ${failure.code}); retried through the queue`,
    );
  }
  if (status.inProgressUntil !== undefined) {
    lines.push(`Now:       being exported (claimed until ${status.inProgressUntil})`);
  }
  return lines;
}
