/** How the project's functions are bundled: one esbuild ESM bundle per function, built on this machine. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BundlingOptions, LogLevel, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository's root, where the functions' entries and the lock file are. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The lock file the bundles are built from. */
export const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');

/**
 * esbuild's banner for the ESM bundle: CommonJS dependencies (dropbox, parts of the AWS SDK) call `require`,
 * which an ES module does not have.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __tdsCreateRequire } from 'node:module'; const require = __tdsCreateRequire(import.meta.url);";

/** The bundling of every function: minified ESM for node24 with source maps, the AWS SDK bundled, no Docker. */
export const FUNCTION_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  // The runtime's SDK version is not ours to pin: bundle the one the tests ran with.
  bundleAwsSDK: true,
  forceDockerBundling: false,
  logLevel: LogLevel.WARNING,
};
