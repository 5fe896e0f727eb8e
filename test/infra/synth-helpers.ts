/** Synthesizes the stack for the infra tests, each in its own temporary cloud assembly. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TicketDropboxSyncStack, type TicketDropboxSyncStackProps } from '../../infra/stack.ts';

/** A synthesized stack, its template and where its assembly lies. */
export interface SynthesizedStack {
  readonly app: App;
  readonly stack: TicketDropboxSyncStack;
  readonly template: Template;
  readonly outdir: string;
}

const outdirs: string[] = [];

/**
 * The feature flags of `cdk.json` (aws-cdk-lib's recommended flags for new projects), so that the tests check the
 * template `cdk synth` and `cdk deploy` produce. The deployment context keys (`instanceName`, …) are left out: the
 * tests pass their props.
 */
export function cdkJsonFeatureFlags(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    readonly context?: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(cdkJson.context ?? {}).filter(([key]) => key.startsWith('@aws-cdk')),
  );
}

/**
 * Builds and synthesizes a stack with the real esbuild bundle. CDK caches a bundle per process, so only the first
 * synth of a test file pays for esbuild.
 */
export function synthStack(
  props: TicketDropboxSyncStackProps = {},
  id = 'TicketDropboxSync-test',
): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), 'tds-infra-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: cdkJsonFeatureFlags() });
  const stack = new TicketDropboxSyncStack(app, id, props);
  return { app, stack, template: Template.fromStack(stack), outdir };
}

/** Removes the assemblies {@link synthStack} wrote. */
export function removeSynthOutputs(): void {
  for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
}

/** A policy statement as it appears in a synthesized template. */
export interface TemplateStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, unknown>;
  readonly Sid?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every statement of every policy document in the template, with the logical id of the resource holding it. */
export function allStatements(
  template: Template,
): { owner: string; type: string; statement: TemplateStatement }[] {
  const found: { owner: string; type: string; statement: TemplateStatement }[] = [];
  const visit = (owner: string, type: string, node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(owner, type, item);
      return;
    }
    if (!isRecord(node)) return;
    if (Array.isArray(node.Statement)) {
      for (const statement of node.Statement)
        found.push({ owner, type, statement: statement as TemplateStatement });
      return;
    }
    for (const value of Object.values(node)) visit(owner, type, value);
  };
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: unknown }>;
  for (const [logicalId, resource] of Object.entries(resources))
    visit(logicalId, resource.Type, resource.Properties);
  return found;
}

/** The actions of a statement as an array. */
export function actionsOf(statement: TemplateStatement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}
