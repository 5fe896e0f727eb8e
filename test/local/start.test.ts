/**
 * `npm start` (tools/local/start.ts) as a process: a failure is one `error:` line and an exit code, never a stack
 * trace; `--reset` deletes only a local stack's folder.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, runProcess } from '../cli/run-cli.ts';

const START = fileURLToPath(new URL('../../tools/local/start.ts', import.meta.url));
const folders: string[] = [];

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tds-start-'));
  folders.push(dir);
  return dir;
}

function start(args: readonly string[]): Promise<CliRun> {
  const { TICKET_DROPBOX_SYNC_LOCAL: _local, ...env } = process.env;
  return runProcess(process.execPath, [START, ...args], { env });
}

const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?\n/;

afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('ends --once with one error line and exit 1 when the stored settings are invalid', async () => {
    // Prepare: the SSM emulator's state file with a value the settings schema refuses
    const dir = folder();
    const name = '/ticket-dropbox-sync/default/export-by-status';
    const parameter = { name, type: 'String', value: 'finals', version: 1, lastModified: Date.now() };
    writeFileSync(
      join(dir, 'ssm.json'),
      JSON.stringify({
        format: 1,
        parameters: { [name]: [{ ...parameter, tier: 'Standard', dataType: 'text' }] },
      }),
    );

    // Act
    const run = await start(['--once', '--dir', dir]);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^error: .*export-by-status must be one of non-final, final, all \(got "finals"\)/m,
    );
    expect(`${run.stdout}\n${run.stderr}`).not.toMatch(STACK_TRACE);
  });

  it('refuses a wrong option with its message and the usage, exit 2', async () => {
    // Act
    const run = await start(['--log-level', 'loud']);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'error: --log-level must be one of debug, info, warn, error, silent (got "loud")',
    );
    expect(run.stderr).toContain('Usage: npm start -- [options]');
  });

  it('refuses to reset a folder that is not a local stack, and deletes nothing', async () => {
    // Prepare
    const dir = folder();
    writeFileSync(join(dir, 'thesis.tex'), 'not local state');

    // Act
    const run = await start(['--reset', '--dir', dir]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--reset deletes only a local stack's folder");
    expect(existsSync(join(dir, 'thesis.tex'))).toBe(true);
  });
});
