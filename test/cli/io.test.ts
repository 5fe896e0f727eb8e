/**
 * Reading stdin line by line (cli/io.ts): a secret and then a code may come in one chunk (`connect --app-secret -`
 * with the pasted code after it), and the second read gets the second line.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createIo, readLine } from '../../cli/io.ts';

describe('readLine', () => {
  it('leaves what follows the first line to the next read when both lines come in one chunk', async () => {
    // Prepare
    const stdin = new PassThrough();
    const io = createIo({
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stdin,
      stderrIsTty: false,
      stdinIsTty: false,
      env: {},
    });
    stdin.end('the-app-secret\nthe-code\n');

    // Act
    const first = await readLine(io);
    const second = await readLine(io);
    const third = await readLine(io);

    // Assess
    expect([first, second, third]).toEqual(['the-app-secret', 'the-code', null]);
  });
});
