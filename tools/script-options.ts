/**
 * The options of a script run as `npm run NAME -- …` (the bench, the soak): `--help` prints its usage and exits 0; a
 * wrong option is one `error:` line that points at `--help` (exit 2), never a stack trace.
 */

/** The options `read` returned, or the exit code to end with (after the usage or the error line). */
export type ScriptOptions<T> = { readonly options: T } | { readonly exitCode: number };

/**
 * Runs `read` (which parses the command line, returns `'help'` for `--help`, and throws on a wrong option) and
 * prints what the user asked for or did wrong.
 */
export function readScriptOptions<T>(name: string, usage: string, read: () => T | 'help'): ScriptOptions<T> {
  try {
    const options = read();
    if (options === 'help') {
      process.stdout.write(usage);
      return { exitCode: 0 };
    }
    return { options };
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message} (npm run ${name} -- --help)\n`);
    return { exitCode: 2 };
  }
}
