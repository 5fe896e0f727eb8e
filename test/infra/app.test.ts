import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleSize, describeBundle, measureBundles } from '../../tools/synth.ts';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP = join(REPO_ROOT, 'infra', 'app.ts');

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function isExecError(error: unknown): error is Error & { code: number; stdout: string; stderr: string } {
  return (
    error instanceof Error &&
    'stdout' in error &&
    'stderr' in error &&
    'code' in error &&
    typeof error.code === 'number'
  );
}

async function runNode(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Promise<RunResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    if (isExecError(error)) return { code: error.code, stdout: error.stdout, stderr: error.stderr };
    throw error;
  }
}

// What the CDK CLI hands the app: context as JSON, the assembly directory; and no AWS credentials at all.
function appEnv(outdir: string, context: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: outdir,
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({
      ...context,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
    }),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

describe('the CDK app (infra/app.ts) run as the CLI runs it', () => {
  const dirs: string[] = [];
  let outdir: string;
  let synth: RunResult;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'tds-app-'));
    dirs.push(outdir);
    synth = await runNode(
      ['--disable-warning=ExperimentalWarning', APP],
      appEnv(outdir, { instanceName: 'ci', keyPrefix: 'incoming/', maxConcurrency: '3' }),
    );
  });

  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('synthesizes TicketDropboxSync-<instanceName> from context with no AWS credentials and no nag finding', () => {
    // Assess
    expect(synth.stderr).not.toMatch(/AwsSolutions-/);
    expect(synth.code).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir, 'TicketDropboxSync-ci.template.json'), 'utf8'));
    expect(template.Outputs.SettingsPath.Value).toBe('/ticket-dropbox-sync/ci/');
    expect(template.Outputs.KeyPrefix.Value).toBe('incoming/');
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);
  });

  it('bundles each function (the sync function, the breaker probe) into one minified ESM file with its source map, measured by the synth tool', () => {
    // Act
    const bundles = measureBundles(outdir);

    // Assess
    expect(bundles.map((bundle) => bundle.constructPath).sort()).toEqual([
      'TicketDropboxSync-ci/CircuitBreaker/Probe',
      'TicketDropboxSync-ci/SyncFunction',
    ]);
    for (const bundle of bundles) {
      expect(bundle.files.map((file) => file.name)).toEqual(['index.mjs', 'index.mjs.map']);
      expect(bundle.deflatedBytes).toBeGreaterThan(0);
      expect(bundle.deflatedBytes).toBeLessThan(bundle.bytes);
    }
    const sync = bundles.find((bundle) => bundle.constructPath.endsWith('/SyncFunction')) as BundleSize;
    expect(describeBundle(sync)).toMatch(
      /^bundle TicketDropboxSync-ci\/SyncFunction: index\.mjs [\d.]+ (KiB|MiB)/,
    );
  });

  it.each(['SyncFunction', 'CircuitBreaker/Probe'])(
    'loads the %s bundle on its own, away from node_modules, and finds the handler',
    async (name) => {
      // Prepare
      const bundle = measureBundles(outdir).find((candidate) => candidate.constructPath.endsWith(`/${name}`));
      if (!bundle) throw new Error('no bundle');
      const isolated = mkdtempSync(join(tmpdir(), 'tds-bundle-'));
      dirs.push(isolated);
      for (const file of bundle.files)
        copyFileSync(join(bundle.directory, file.name), join(isolated, file.name));
      const entry = pathToFileURL(join(isolated, 'index.mjs')).href;

      // Act
      const loaded = await runNode(
        [
          '--enable-source-maps',
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(entry)}); console.log(typeof m.handler);`,
        ],
        { PATH: process.env.PATH, HOME: isolated, AWS_REGION: 'eu-west-1', INSTANCE_NAME: 'ci' },
        isolated,
      );

      // Assess
      expect(loaded.stderr).toBe('');
      expect(loaded.stdout.trim()).toBe('function');
    },
  );

  it('fails the synth with the exact message when the context asks for a timeout above 900', async () => {
    // Prepare
    const failedOutdir = mkdtempSync(join(tmpdir(), 'tds-app-'));
    dirs.push(failedOutdir);

    // Act
    const failed = await runNode(
      ['--disable-warning=ExperimentalWarning', APP],
      appEnv(failedOutdir, { timeoutSeconds: '901' }),
    );

    // Assess
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(
      'timeoutSeconds must be a whole number from 1 to 900 (the Lambda maximum), got 901',
    );
  });
});
