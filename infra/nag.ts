/** cdk-nag (AwsSolutions) wiring: the pack for the app, and acknowledgments that name the exact finding. */
import { type App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Registers cdk-nag's AwsSolutions pack on `app`: any unacknowledged finding fails the synth. */
export function applyNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}

/** Acknowledges one AwsSolutions rule on `scope` (and everything under it) with the reason it does not apply. */
export function acknowledgeNagRule(scope: IConstruct, ruleId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: ruleId, reason });
}

/**
 * Acknowledges AwsSolutions-IAM5 for one wildcard resource of a policy under `scope`. cdk-nag v3 names each
 * finding by the resource as it renders it (`Ref`/`GetAtt` flattened to `<Name>`/`<Name.Attr>`), so the id is
 * computed from the resolved token instead of being spelled out by hand.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  const rendered = flattenCfnReference(Stack.of(scope).resolve(resource));
  acknowledgeNagRule(scope, `AwsSolutions-IAM5[Resource::${rendered}]`, reason);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Mirrors cdk-nag's own rendering of CloudFormation references in finding ids (utils/flatten-cfn-reference).
function flattenCfnReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  if (isRecord(node)) {
    const join = node['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join;
      if (typeof delimiter === 'string' && Array.isArray(items)) {
        return items.map((item) => flattenCfnReference(item)).join(delimiter);
      }
    }
    if ('Fn::Sub' in node) return flattenCfnReference(node['Fn::Sub']);
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      return `<${flattenCfnReference(getAtt[0])}.${flattenCfnReference(getAtt[1])}>`;
    }
    if ('Fn::ImportValue' in node) return flattenCfnReference(node['Fn::ImportValue']);
    if ('Ref' in node) return `<${flattenCfnReference(node.Ref)}>`;
  }
  return JSON.stringify(node);
}
