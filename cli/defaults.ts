/** The CLI's defaults, apart so that the program's help can show them without loading the AWS SDK. */

/** The default instance name (`--instance`). */
export const DEFAULT_INSTANCE = 'default';
/** The default folder of the local stack (`--local` without `--local-dir` or the environment variable). */
export const DEFAULT_LOCAL_DIR = '.local';
/** The environment variable that selects the local stack, naming its folder. */
export const LOCAL_ENV = 'TICKET_DROPBOX_SYNC_LOCAL';
/** The prefix the notifications watch when the deployment does not say (DESIGN.md's default). */
export const DEFAULT_KEY_PREFIX = 'tickets/';
