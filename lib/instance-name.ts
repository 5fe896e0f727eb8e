/**
 * The name of a deployment (an instance): it names the stack `TicketDropboxSync-<name>`, the settings path
 * `/ticket-dropbox-sync/<name>/`, the alarms and the dashboard. One rule, checked at synth and by the CLI.
 */

/** 1 to 32 lowercase letters, digits or hyphens, starting and ending with a letter or digit. */
export const INSTANCE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** What {@link INSTANCE_NAME_PATTERN} allows, in words. */
export const INSTANCE_NAME_RULE =
  '1 to 32 lowercase letters, digits or hyphens, starting and ending with a letter or digit';

/** True when `name` is a valid instance name. */
export function isValidInstanceName(name: string): boolean {
  return INSTANCE_NAME_PATTERN.test(name);
}
