/**
 * The `ticket-dropbox-sync` command line: commander's program with every command, and {@link runCli}, which
 * runs it and maps the outcome to the exit code (0 done, 1 failed, 2 usage).
 */
import { Command, CommanderError, Option } from 'commander';
import { errorMessage } from '../lib/errors.ts';
import { registerCommands } from './commands.ts';
import type { ExitState } from './context.ts';
import { DEFAULT_INSTANCE, DEFAULT_LOCAL_DIR, LOCAL_ENV } from './defaults.ts';
import { CliUsageError, CommandFailedError, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './errors.ts';
import type { CliIo } from './io.ts';

/** The program's name, as installed by the package's `bin`. */
export const PROGRAM_NAME = 'ticket-dropbox-sync';

function fullNameOf(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current !== null; current = current.parent) {
    names.unshift(current.name());
  }
  return names.join(' ');
}

function eachCommand(command: Command, visit: (command: Command) => void): void {
  visit(command);
  for (const child of command.commands) eachCommand(child, visit);
}

/** Builds the program. Actions record their exit code in `state`. */
export function createProgram(io: CliIo, state: ExitState): Command {
  const program = new Command(PROGRAM_NAME)
    .description(
      'Operate ticket-dropbox-sync: connect Dropbox, check and change the settings, explain a decision, ' +
        'backfill existing files, pause the flow, redrive failed messages.',
    )
    .addOption(
      new Option(
        '--instance <name>',
        `the deployment: stack TicketDropboxSync-<name> (default: "${DEFAULT_INSTANCE}")`,
      ),
    )
    .addOption(
      new Option(
        '--local',
        `the local stack (npm start), whose outputs.json is in ${LOCAL_ENV} or else "${DEFAULT_LOCAL_DIR}"`,
      ),
    )
    .addOption(
      new Option('--local-dir <dir>', 'the local stack whose outputs.json is in dir (implies --local)'),
    )
    .addOption(new Option('--region <region>', 'the AWS region (default: the AWS SDK configuration)'))
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  registerCommands(program, io, state);

  eachCommand(program, (command) => {
    const name = fullNameOf(command);
    command.showHelpAfterError(`Usage: ${name} ${command.usage()}\nRun '${name} --help' for the options.`);
  });
  return program;
}

/**
 * Runs the CLI with the given arguments (without `node` and the script path).
 * @returns the exit code: 0 done, 1 failed, 2 usage error.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const state: ExitState = { exitCode: EXIT_OK };
  const program = createProgram(io, state);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with 0; every parse error commander raises is a usage error.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof CliUsageError) {
      io.stderr.write(`error: ${error.message}\nRun '${PROGRAM_NAME} --help' for the commands.\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CommandFailedError) {
      io.stderr.write(`error: ${error.message}\n`);
      return EXIT_FAILED;
    }
    io.stderr.write(`error: ${describeUnexpected(error)}\n`);
    return EXIT_FAILED;
  }
}

/** The message of an error nothing translated, with the name AWS SDK errors carry (`AccessDeniedException`). */
function describeUnexpected(error: unknown): string {
  const message = errorMessage(error);
  if (error instanceof Error && error.name !== 'Error' && !message.includes(error.name)) {
    return `${error.name}: ${message}`;
  }
  return message;
}
