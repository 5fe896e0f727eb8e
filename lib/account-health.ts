/**
 * The breaker probe's look at the account (lib/breaker.ts): what would make every record fail the same way, checked
 * the way the flow uses the account. The settings are valid and Dropbox is connected; a fresh access token comes
 * from the refresh token (a revoked one is refused with `invalid_grant`) and `users/get_current_account` accepts it;
 * `users/get_space_usage` says there is room. A check that fails for a passing reason (a 5xx, the network) is
 * `unknown`: the probe then leaves the breaker as it is and looks again on its next run.
 */

import type { AccountCheck, ProbeResult } from './breaker.ts';
import { errorMessage, isSyncError } from './errors.ts';
import type { DropboxCredentials, Settings } from './settings.ts';

/** The Dropbox calls of the check. */
export interface AccountProbeTarget {
  getCurrentAccount(signal?: AbortSignal): Promise<unknown>;
  getSpaceUsage(
    signal?: AbortSignal,
  ): Promise<{ readonly used: number; readonly allocated: number | undefined; readonly full: boolean }>;
}

/** What {@link createAccountCheck} needs. */
export interface AccountCheckDeps {
  /** The settings, read afresh (no cache): an admin's fix shows at the next probe. */
  readonly loadSettings: (signal?: AbortSignal) => Promise<Settings>;
  /** A client for these credentials whose access token is refreshed before its first call. */
  readonly dropboxFor: (credentials: DropboxCredentials) => AccountProbeTarget;
}

function failedWith(error: unknown): ProbeResult {
  if (isSyncError(error) && error.kind === 'account') {
    return { status: 'unhealthy', code: error.code, message: error.message };
  }
  return {
    status: 'unknown',
    code: isSyncError(error) ? error.code : 'probe-error',
    message: errorMessage(error),
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The account check of the probe. */
export function createAccountCheck(deps: AccountCheckDeps): AccountCheck {
  return async (signal) => {
    let settings: Settings;
    try {
      settings = await deps.loadSettings(signal);
    } catch (error) {
      return failedWith(error);
    }
    if (settings.dropbox === undefined) {
      return {
        status: 'unhealthy',
        code: 'dropbox-not-connected',
        message: 'Dropbox is not connected: run `ticket-dropbox-sync connect`',
      };
    }
    try {
      const dropbox = deps.dropboxFor(settings.dropbox);
      await dropbox.getCurrentAccount(signal);
      const space = await dropbox.getSpaceUsage(signal);
      if (space.full) {
        return {
          status: 'unhealthy',
          code: 'dropbox-insufficient-space',
          message: `Dropbox is full: ${mib(space.used)} used of ${space.allocated === undefined ? '?' : mib(space.allocated)}`,
        };
      }
      return {
        status: 'healthy',
        code: 'healthy',
        message: `settings valid, token refreshed, ${mib(space.used)} used of ${space.allocated === undefined ? '?' : mib(space.allocated)}`,
      };
    } catch (error) {
      return failedWith(error);
    }
  };
}
