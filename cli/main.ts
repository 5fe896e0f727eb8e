#!/usr/bin/env node
/**
 * The `ticket-dropbox-sync` executable (the package's `bin`): runs the CLI on the process's arguments and
 * exits with its code, 0 done, 1 failed, 2 usage error.
 */
import { createProcessIo } from './io.ts';
import { runCli } from './program.ts';

const exitCode = await runCli(process.argv.slice(2), createProcessIo());
// Flush what is buffered before exiting: an idle keep-alive socket must not hold the process open.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
process.exit(exitCode);
