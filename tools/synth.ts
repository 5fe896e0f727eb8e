/**
 * `npm run synth`: runs `cdk synth` offline (no AWS credentials, no network) with the real esbuild bundle, then
 * prints the size of each function bundle. Extra arguments go to `cdk synth` (`npm run synth -- -c instanceName=x`).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';

/** One file of a bundle and its size. */
export interface BundleFile {
  readonly name: string;
  readonly bytes: number;
}

/** A function's bundle in a cloud assembly. */
export interface BundleSize {
  /** `Stack/Construct` path of the function. */
  readonly constructPath: string;
  /** The bundle's directory in the assembly. */
  readonly directory: string;
  readonly files: readonly BundleFile[];
  /** Sum of the files' sizes. */
  readonly bytes: number;
  /** Sum of the files' deflated sizes: about what the deployment zip weighs. */
  readonly deflatedBytes: number;
}

/** Lambda's limits for a zip deployment package. */
export const LAMBDA_ZIP_LIMIT_BYTES = 50 * 1024 * 1024;
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface TemplateResource {
  readonly Type?: string;
  readonly Metadata?: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function templatePaths(assemblyDir: string): string[] {
  const manifest = readJson(join(assemblyDir, 'manifest.json'));
  const artifacts = isRecord(manifest) && isRecord(manifest.artifacts) ? manifest.artifacts : {};
  const paths: string[] = [];
  for (const artifact of Object.values(artifacts)) {
    if (!isRecord(artifact) || artifact.type !== 'aws:cloudformation:stack') continue;
    const properties = artifact.properties;
    if (isRecord(properties) && typeof properties.templateFile === 'string') {
      paths.push(join(assemblyDir, properties.templateFile));
    }
  }
  return paths;
}

/**
 * Finds every Lambda function bundled into the cloud assembly at `assemblyDir` (by the `aws:asset:path` metadata
 * CDK writes on each function) and measures its files.
 */
export function measureBundles(assemblyDir: string): BundleSize[] {
  const bundles: BundleSize[] = [];
  for (const templatePath of templatePaths(assemblyDir)) {
    const template = readJson(templatePath);
    const resources = isRecord(template) && isRecord(template.Resources) ? template.Resources : {};
    for (const resource of Object.values(resources) as TemplateResource[]) {
      const metadata = resource.Metadata;
      if (resource.Type !== 'AWS::Lambda::Function' || !metadata) continue;
      const assetPath = metadata['aws:asset:path'];
      const constructPath = metadata['aws:cdk:path'];
      if (typeof assetPath !== 'string') continue;
      const directory = resolve(assemblyDir, assetPath);
      if (!statSync(directory).isDirectory()) continue;
      const files = readdirSync(directory)
        .filter((name) => statSync(join(directory, name)).isFile())
        .sort()
        .map((name) => ({ name, bytes: statSync(join(directory, name)).size }));
      const deflatedBytes = files.reduce(
        (sum, file) => sum + deflateRawSync(readFileSync(join(directory, file.name))).length,
        0,
      );
      bundles.push({
        constructPath:
          typeof constructPath === 'string' ? constructPath.replace(/\/Resource$/, '') : directory,
        directory,
        files,
        bytes: files.reduce((sum, file) => sum + file.bytes, 0),
        deflatedBytes,
      });
    }
  }
  return bundles;
}

/** `1234567` → `1.18 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

/** The lines `npm run synth` prints for one bundle. */
export function describeBundle(bundle: BundleSize): string {
  const files = bundle.files.map((file) => `${file.name} ${formatBytes(file.bytes)}`).join(', ');
  const zipShare = ((bundle.deflatedBytes / LAMBDA_ZIP_LIMIT_BYTES) * 100).toFixed(1);
  return [
    `bundle ${bundle.constructPath}: ${files}`,
    `  total ${formatBytes(bundle.bytes)}, zipped ≈ ${formatBytes(bundle.deflatedBytes)} (${zipShare}% of Lambda's 50 MiB zip limit)`,
  ].join('\n');
}

function runCdkSynth(args: readonly string[], outputDir: string): number {
  const cli = join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  const result = spawnSync(
    process.execPath,
    [cli, 'synth', '--quiet', '--no-notices', '--output', outputDir, ...args],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
      env: {
        ...process.env,
        // cdk.json's `node` runs the app: make it this Node (24), not whatever comes first on PATH.
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
        // Offline: no instance-metadata credential probe, no version check, no telemetry upload.
        AWS_EC2_METADATA_DISABLED: 'true',
        CDK_DISABLE_VERSION_CHECK: 'true',
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      },
    },
  );
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/** Splits `--output DIR` / `-o DIR` off the arguments: the bundle is measured there. */
function splitOutputArg(args: readonly string[]): { outputDir: string; rest: string[] } {
  const index = args.findIndex((arg) => arg === '--output' || arg === '-o');
  if (index < 0) return { outputDir: resolve(REPO_ROOT, 'cdk.out'), rest: [...args] };
  const value = args[index + 1];
  if (value === undefined) throw new Error(`${args[index]} needs a directory`);
  return {
    outputDir: resolve(REPO_ROOT, value),
    rest: args.filter((_, i) => i !== index && i !== index + 1),
  };
}

function main(): void {
  const { outputDir, rest } = splitOutputArg(process.argv.slice(2));
  const status = runCdkSynth(rest, outputDir);
  if (status !== 0) {
    process.exitCode = status;
    return;
  }
  const bundles = measureBundles(outputDir);
  if (bundles.length === 0) {
    console.error(`no function bundle found in ${outputDir} (was --no-asset-metadata given?)`);
    process.exitCode = 1;
    return;
  }
  for (const bundle of bundles) console.log(describeBundle(bundle));
}

if (import.meta.main) main();
