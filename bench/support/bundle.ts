/**
 * Bundles an entry the way infra/stack.ts has NodejsFunction bundle the function: esbuild, ESM for Node 24, the
 * `module` field first, the `require` banner, minified, with a source map, the AWS SDK inside the bundle. The bench
 * runs the function (and its own child processes) from such bundles: what Lambda runs, without TypeScript stripping.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The `require` banner of infra/stack.ts (`ESM_REQUIRE_BANNER`): CommonJS dependencies call `require`. */
const REQUIRE_BANNER =
  "import { createRequire as __tdsCreateRequire } from 'node:module'; const require = __tdsCreateRequire(import.meta.url);";

/** A bundle on disk. */
export interface Bundle {
  readonly file: string;
  readonly bytes: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Bundles `entry` (a path relative to the repository root, or `{ source }`: module text resolved from the root)
 * into `outfile`.
 */
export async function bundleEntry(
  entry: string | { readonly source: string },
  outfile: string,
): Promise<Bundle> {
  await build({
    ...(typeof entry === 'string'
      ? { entryPoints: [`${ROOT}${entry}`] }
      : { stdin: { contents: entry.source, resolveDir: ROOT, loader: 'ts' as const } }),
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_BANNER },
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    logLevel: 'warning',
  });
  return { file: outfile, bytes: (await stat(outfile)).size };
}
