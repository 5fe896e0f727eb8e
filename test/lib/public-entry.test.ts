import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

describe('the package entry point, as installed', () => {
  let workDir = '';

  beforeAll(async () => {
    // Prepare: compile lib/ the way the published package ships it, under node_modules/ticket-dropbox-sync.
    workDir = await mkdtemp(join(tmpdir(), 'ticket-dropbox-sync-entry-'));
    const packageDir = join(workDir, 'node_modules', 'ticket-dropbox-sync');
    await mkdir(packageDir, { recursive: true });
    await run(process.execPath, [
      require.resolve('typescript/bin/tsc'),
      join(ROOT, 'lib', 'index.ts'),
      ...['--outDir', join(packageDir, 'dist', 'lib'), '--rootDir', join(ROOT, 'lib')],
      ...['--target', 'es2024', '--lib', 'es2024', '--module', 'nodenext', '--moduleResolution', 'nodenext'],
      ...['--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types')],
      // Type checking is the typecheck script's job; this is about what the package emits (3 s instead of 13 s).
      ...['--strict', '--verbatimModuleSyntax', '--declaration', '--skipLibCheck', '--noCheck'],
      ...['--allowImportingTsExtensions', '--rewriteRelativeImportExtensions'],
    ]);
    await copyFile(join(ROOT, 'package.json'), join(packageDir, 'package.json'));
    await symlink(join(ROOT, 'node_modules', 'zod'), join(workDir, 'node_modules', 'zod'), 'dir');
  });

  afterAll(async () => {
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  });

  test('lets plain Node import decideExport and the settings parser by package name', async () => {
    // Prepare
    const script = join(workDir, 'example.mjs');
    await writeFile(
      script,
      [
        "import { decideExport, parseSettings } from 'ticket-dropbox-sync';",
        'const decision = decideExport(',
        "  { key: 'tickets/1234/Proof 1.pdf', metadata: { 'ticket-type': 'print', 'file-status': 'final', 'publication-alias': 'Gazette', 'issue-alias': '2026-12' } },",
        "  { 'export-by-status': 'final', 'export-to-single-folder': 'no', 'dropbox/refresh-token': 'ignored' },",
        ');',
        "console.log(JSON.stringify({ decision, rules: parseSettings({ 'on-conflict': 'overwrite' }).rules }));",
      ].join('\n'),
    );

    // Act
    const { stdout } = await run(process.execPath, [script], { cwd: workDir });

    // Assess
    const output = JSON.parse(stdout) as { decision: unknown; rules: unknown };
    expect(output.decision).toMatchObject({
      export: true,
      reason: { code: 'final-file' },
      dropboxPath: '/Ticket Files/Gazette/2026-12/Proof 1.pdf',
    });
    expect(output.rules).toMatchObject({ onConflict: 'overwrite', exportByStatus: 'non-final' });
  });

  test('reads an export ledger item (a GetItem result) into a typed record', async () => {
    // Prepare
    const script = join(workDir, 'ledger.mjs');
    await writeFile(
      script,
      [
        "import { fromLedgerItem, ledgerId } from 'ticket-dropbox-sync';",
        "const id = ledgerId('ticket-files', 'tickets/9002/Proof.pdf');",
        "const item = { id, bucket: 'ticket-files', key: 'tickets/9002/Proof.pdf', state: 'exported',",
        "  exportedETag: 'e', dropboxId: 'id:a', dropboxRev: 'r', dropboxPath: '/Ticket Files/Proof (1).pdf' };",
        'console.log(JSON.stringify(fromLedgerItem(item)));',
      ].join('\n'),
    );

    // Act
    const { stdout } = await run(process.execPath, [script], { cwd: workDir });

    // Assess
    expect(JSON.parse(stdout)).toMatchObject({
      id: 's3://ticket-files/tickets/9002/Proof.pdf',
      state: 'exported',
      export: { eTag: 'e', file: { id: 'id:a', pathDisplay: '/Ticket Files/Proof (1).pdf' } },
    });
  });
});
