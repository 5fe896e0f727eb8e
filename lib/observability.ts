/** The logging and metrics seams of the sync, implemented with Powertools in the function. */

/** A structured logger (Powertools' Logger satisfies it). */
export interface SyncLog {
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

/** The function's metrics (names in DESIGN.md and the stack's dashboard). */
export interface SyncMetrics {
  /** `FilesExported` +1 and `BytesExported` +bytes. */
  exported(bytes: number): void;
  /** `FilesSkipped` with dimension `reason`. */
  skipped(reasonCode: string): void;
  /** `RecordsFailed` with dimension `kind`; `AccountWideFailures` too when the kind is `account`. */
  failed(kind: string): void;
  /** A warning worth a count (`alias-missing`, …): `Warnings` with dimension `code`. */
  warned(code: string): void;
}
