/**
 * The CLI's view of the customer's Dropbox, through the function's own client (same token refresh, same path
 * root): whether the stored credentials work, and which account they belong to.
 */
import { type DropboxAccount, type DropboxClient, getDropboxClient } from '../lib/dropbox/client.ts';
import { isDropboxApiError } from '../lib/dropbox/errors.ts';
import { errorMessage } from '../lib/errors.ts';
import type { DropboxCredentials } from '../lib/settings.ts';
import type { Deployment } from './deployment.ts';

/** Opens the deployment's Dropbox with the given credentials (the emulator's origin on the local stack). */
export function openDropbox(credentials: DropboxCredentials, deployment: Deployment): DropboxClient {
  return getDropboxClient({ credentials, endpointUrl: deployment.dropboxEndpointUrl });
}

/** What {@link checkDropboxAccount} found. */
export type AccountCheck =
  | { readonly ok: true; readonly account: DropboxAccount; readonly teamRootUsed: boolean }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Whether the files go to a team space root: with `dropbox/path-root` `auto`, when the account's root namespace
 * is not its home namespace.
 */
export function usesTeamRoot(account: DropboxAccount, credentials: DropboxCredentials): boolean {
  return credentials.pathRoot === 'auto' && account.rootNamespaceId !== account.homeNamespaceId;
}

/** Calls `users/get_current_account` with the credentials; a failure is reported, not thrown. */
export async function checkDropboxAccount(
  client: DropboxClient,
  credentials: DropboxCredentials,
): Promise<AccountCheck> {
  try {
    const account = await client.getCurrentAccount();
    return { ok: true, account, teamRootUsed: usesTeamRoot(account, credentials) };
  } catch (error) {
    if (isDropboxApiError(error)) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: 'error', message: errorMessage(error) };
  }
}
