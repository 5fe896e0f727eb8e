/**
 * The commands, their arguments and options. Each action's code is imported when the command runs, so `--help`
 * and usage errors answer without loading the AWS SDK, the Dropbox SDK or the settings schema.
 */
import { type Command, Option } from 'commander';
import type { BackfillOptions } from './actions/backfill.ts';
import type { ConnectOptions } from './actions/connect.ts';
import type { UploadOptions } from './actions/upload.ts';
import {
  type ObjectKey,
  parseConcurrency,
  parseKeyPrefix,
  parseObjectKey,
  parseS3Url,
  parseSinceDate,
  type S3Address,
} from './arguments.ts';
import { type CommandContext, type ExitState, runAction } from './context.ts';
import type { CliIo } from './io.ts';

interface JsonOption {
  readonly json?: boolean;
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Adds every command to the program. */
export function registerCommands(program: Command, io: CliIo, state: ExitState): void {
  /** A command whose only option is `--json`, its action imported when it runs. */
  const addJsonCommand = (
    parent: Command,
    name: string,
    description: string,
    run: (context: CommandContext, options: JsonOption) => Promise<number | undefined>,
  ): void => {
    parent
      .command(name)
      .description(description)
      .option('--json', 'print JSON')
      .action(async (options: JsonOption, command: Command) =>
        runAction(io, state, command, async (context) => run(context, options)),
      );
  };

  program
    .command('connect')
    .summary('link the Dropbox account the files go to')
    .description(
      'link the Dropbox account the files go to (OAuth with PKCE): prints a URL, reads the code Dropbox shows, ' +
        'stores the refresh token as a SecureString, checks the account and that it can write to the base folder',
    )
    .option('--code <code>', 'the code Dropbox showed, to finish a connect started with --print-url')
    .option('--print-url', 'print the URL and stop; finish with --code')
    .option('--app-key <key>', 'the Dropbox app key (default: the stored dropbox/app-key)')
    .option(
      '--app-secret <secret>',
      'the app secret, stored as a SecureString (not needed with PKCE); - reads it from stdin (its first line), ' +
        "which keeps it out of the shell's history and ps",
    )
    .option('--kms-key-id <id>', "KMS key of the SecureStrings (default: the stack's SettingsKmsKeyId)")
    .option('--json', 'print the result as JSON')
    .action(async (options: ConnectOptions, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/connect.ts')).connect(context, options),
      ),
    );

  program
    .command('disconnect')
    .description('revoke the Dropbox token (auth/token/revoke) and remove it from the settings')
    .option('--force', 'remove the token even when Dropbox cannot be reached to revoke it')
    .action(async (options: { force?: boolean }, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/connect.ts')).disconnect(context, options),
      ),
    );

  const config = program
    .command('config')
    .description('show, validate and change the settings (SSM parameters under the instance path)');

  addJsonCommand(
    config,
    'show',
    'print every setting: its value or its default; secrets only as "set" or "not set"',
    async (context, options) => (await import('./actions/config.ts')).showConfig(context, options),
  );

  addJsonCommand(
    config,
    'validate',
    "check the stored settings with the function's own schema; exit 1 listing every problem",
    async (context, options) => (await import('./actions/config.ts')).validateConfig(context, options),
  );

  config
    .command('set')
    .description(
      'store one setting after checking its value (nothing is written when it is invalid); ' +
        'for a secret, pass - as the value to read it from stdin',
    )
    .argument('<name>', 'the setting (`config show` lists them)')
    .argument('<value>', 'the new value (- reads a secret from stdin)')
    .option('--kms-key-id <id>', "KMS key of a SecureString (default: the stack's SettingsKmsKeyId)")
    .action(async (name: string, value: string, options: { kmsKeyId?: string }, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/config.ts')).setConfig(context, name, value, options),
      ),
    );

  config
    .command('unset')
    .description('remove one setting, so that its default applies')
    .argument('<name>', 'the setting')
    .action(async (name: string, _options: unknown, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/config.ts')).unsetConfig(context, name),
      ),
    );

  program
    .command('explain')
    .summary('why a file does or does not go to Dropbox')
    .description(
      'why a file does or does not go to Dropbox: the decision, its reason, the Dropbox path, ' +
        'and what Dropbox holds there now',
    )
    .argument('<s3-url>', 'the object, as s3://BUCKET/KEY', parseS3Url)
    .option('--json', 'print JSON')
    .action(async (address: S3Address, options: JsonOption, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/explain.ts')).explain(context, address, options),
      ),
    );

  program
    .command('backfill')
    .summary('send the files already in the bucket that qualify to the queue')
    .description(
      'evaluate the objects already in the bucket and send those that qualify to the queue, ' +
        'as if they had just been uploaded; objects the export ledger shows exported at their current version ' +
        'are skipped without a Dropbox call (--verify checks them in Dropbox); harmless to run twice',
    )
    .addOption(
      new Option(
        '--prefix <prefix>',
        "the key prefix to list (default: the deployment's prefix, tickets/)",
      ).argParser(parseKeyPrefix),
    )
    .addOption(
      new Option('--since <date>', 'only objects modified at or after this ISO 8601 date').argParser(
        parseSinceDate,
      ),
    )
    .option('--dry-run', 'evaluate and report, send nothing')
    .option(
      '--verify',
      'check in Dropbox (by file id) each object the ledger shows exported; send those no longer there as recorded',
    )
    .addOption(
      new Option('--concurrency <n>', 'objects evaluated at once').argParser(parseConcurrency).default(8),
    )
    .option('--json', 'print the summary as JSON')
    .action(async (options: BackfillOptions, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/backfill.ts')).backfill(context, options),
      ),
    );

  program
    .command('upload')
    .summary("put a file into the deployment's bucket as the ticket system would")
    .description(
      "put a local file into the deployment's bucket as the ticket system would, with the upload contract's " +
        'metadata (and tags, sent with the upload); non-ASCII values travel as RFC 2047 encoded-words',
    )
    .argument('<file>', 'the local file')
    .argument('<key>', 'the object key, such as tickets/2001/proof.pdf')
    .addOption(
      new Option(
        '--metadata <pairs>',
        'user metadata NAME=VALUE, several separated by commas or repeated: ticket-type=print,ticket-id=2001',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--tag <pairs>',
        'object tags NAME=VALUE sent with the upload, such as file-status=final',
      ).argParser(collect),
    )
    .option('--json', 'print JSON')
    .action(async (file: string, key: string, options: UploadOptions, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/upload.ts')).uploadFile(context, file, key, options),
      ),
    );

  program
    .command('tag')
    .summary("replace an object's tags, as the ticket system marks a file final later")
    .description(
      "replace an object's tag set (PutObjectTagging), as the ticket system marks a file final after the upload; " +
        'the ObjectTagging:Put event makes the function evaluate the file again',
    )
    .argument('<key>', 'the object key, such as tickets/2001/proof.pdf')
    .argument('<tags...>', 'NAME=VALUE pairs, such as file-status=final')
    .option('--json', 'print JSON')
    .action(async (key: string, tags: string[], options: JsonOption, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/upload.ts')).tagObject(context, key, tags, options),
      ),
    );

  addJsonCommand(
    program,
    'pause',
    "stop the flow (disable the function's queue event source); messages wait in the queue",
    async (context, options) => (await import('./actions/pause.ts')).changeFlow(context, true, options),
  );

  addJsonCommand(
    program,
    'resume',
    "restart the flow (enable the function's queue event source)",
    async (context, options) => (await import('./actions/pause.ts')).changeFlow(context, false, options),
  );

  program
    .command('redrive')
    .description('move the messages of the dead-letter queue back to the queue, and report how many')
    .option('--no-wait', 'on AWS, start the move task and return without waiting for it to end')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { wait?: boolean }, command: Command) =>
      runAction(io, state, command, async (context) =>
        (await import('./actions/redrive.ts')).redrive(context, options),
      ),
    );

  program
    .command('status')
    .summary('the flow, the queues, the settings and Dropbox; or one object with --key')
    .description(
      'queue and dead-letter queue depth, oldest message age, paused or running, settings, Dropbox; ' +
        'with --key, where one object went in Dropbox (or why it did not), read from the export ledger',
    )
    .addOption(
      new Option(
        '--key <key>',
        "one object's export status: its key in the deployment's bucket, or s3://BUCKET/KEY",
      ).argParser(parseObjectKey),
    )
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { key?: ObjectKey }, command: Command) =>
      runAction(io, state, command, async (context) => {
        const actions = await import('./actions/status.ts');
        return options.key === undefined
          ? actions.status(context, options)
          : actions.objectStatus(context, options.key, options);
      }),
    );
}
