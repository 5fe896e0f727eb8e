/**
 * The CLI's own failures. Each carries the process exit code it ends with: 1 when the command ran and
 * failed, 2 when it was called wrongly (a usage error, the same code commander's own parse errors end with).
 */

/** Exit code of a command that did its job. */
export const EXIT_OK = 0;
/** Exit code of a command that ran and failed. */
export const EXIT_FAILED = 1;
/** Exit code of a command called wrongly. */
export const EXIT_USAGE = 2;

/** A command was called wrongly: bad argument value, unknown setting name, missing required input. */
export class CliUsageError extends Error {
  readonly exitCode = EXIT_USAGE;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'CliUsageError';
  }
}

/**
 * A command ran and failed for a reason the operator can act on; its message is printed as is.
 * The message never carries a secret.
 */
export class CommandFailedError extends Error {
  readonly exitCode = EXIT_FAILED;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'CommandFailedError';
  }
}
