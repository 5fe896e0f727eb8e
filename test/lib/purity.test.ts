import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib');
const PURE_MODULES = [
  'index.ts',
  'settings.ts',
  'ticket-file.ts',
  'rules.ts',
  'dropbox-path.ts',
  's3-event.ts',
  'export-state.ts',
  'ledger.ts',
  'export-status.ts',
  'receipts.ts',
  'redact.ts',
];
const ALLOWED_PACKAGES = new Set(['zod/mini']);
const IMPORT_SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module reachable from `entry` through relative imports, with the bare specifiers each one imports. */
function findSpecifiers(source: string): string[] {
  return [...source.matchAll(IMPORT_SPECIFIER)].map((match) => match[1] ?? match[2] ?? '');
}

async function collectImports(entries: readonly string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const queue = entries.map((entry) => resolve(LIB, entry));
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (found.has(file)) continue;
    const source = await readFile(file, 'utf8');
    const bare: string[] = [];
    for (const specifier of findSpecifiers(source)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      else bare.push(specifier);
    }
    found.set(file, bare);
  }
  return found;
}

describe('the pure domain modules', () => {
  test('finds static, multi-line, type-only, re-export and dynamic imports (the check can fail)', () => {
    // Prepare
    const source = [
      "import { S3Client } from '@aws-sdk/client-s3';",
      'import {',
      '  Dropbox,',
      "} from 'dropbox';",
      "import type { Logger } from '@aws-lambda-powertools/logger';",
      "export { x } from './x.ts';",
      "const lazy = await import('aws-cdk-lib');",
    ].join('\n');

    // Act
    const specifiers = findSpecifiers(source);

    // Assess
    expect(specifiers).toEqual([
      '@aws-sdk/client-s3',
      'dropbox',
      '@aws-lambda-powertools/logger',
      './x.ts',
      'aws-cdk-lib',
    ]);
  });

  test('import no AWS, Dropbox or other package but zod/mini and Node built-ins, directly or through lib/', async () => {
    // Act
    const imports = await collectImports(PURE_MODULES);

    // Assess
    expect([...imports.keys()].map((file) => relative(LIB, file)).sort()).toEqual(
      [...PURE_MODULES, 'errors.ts'].sort(),
    );
    const offending = [...imports].flatMap(([file, specifiers]) =>
      specifiers
        .filter(
          (specifier) =>
            !ALLOWED_PACKAGES.has(specifier) &&
            !(specifier.startsWith('node:') && builtinModules.includes(specifier.slice('node:'.length))),
        )
        .map((specifier) => `${relative(LIB, file)} imports ${specifier}`),
    );
    expect(offending).toEqual([]);
  });

  test('stay inside lib/ and away from its adapter folders', async () => {
    // Act
    const imports = await collectImports(PURE_MODULES);

    // Assess
    for (const file of imports.keys()) {
      const path = relative(LIB, file);
      expect(path.startsWith('..')).toBe(false);
      expect(path.startsWith('aws/')).toBe(false);
      expect(path.startsWith('dropbox/')).toBe(false);
    }
  });
});
