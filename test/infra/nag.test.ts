import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TicketDropboxSyncStackProps } from '../../infra/stack.ts';
import { removeSynthOutputs, type SynthesizedStack, synthStack } from './synth-helpers.ts';

interface Acknowledgment {
  readonly path: string;
  readonly ruleId: string;
  readonly reason: string;
}

function acknowledgmentsUnder(scope: IConstruct): Acknowledgment[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([ruleId, reason]) => ({
          path: construct.node.path,
          ruleId: ruleId.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

const VARIANTS: [string, TicketDropboxSyncStackProps][] = [
  ['a new bucket with access logs (defaults)', {}],
  [
    'a new bucket without access logs, with an alarm email',
    { serverAccessLogs: false, alarmEmail: 'ops@example.com' },
  ],
  [
    'an existing SSE-KMS bucket',
    {
      instanceName: 'shared',
      existingBucketName: 'shared-files',
      existingBucketKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    },
  ],
];

describe.each(VARIANTS)('cdk-nag AwsSolutions on the stack with %s', (_name, props) => {
  let synth: SynthesizedStack;

  beforeAll(() => {
    synth = synthStack(props);
  });

  afterAll(() => {
    removeSynthOutputs();
  });

  it('leaves no unacknowledged error or warning', () => {
    // Act
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.app);

    // Assess
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgment an AwsSolutions rule and a reason', () => {
    // Act
    const acknowledgments = acknowledgmentsUnder(synth.stack);

    // Assess
    expect(acknowledgments.length).toBeGreaterThan(0);
    for (const acknowledgment of acknowledgments) {
      expect(acknowledgment.ruleId).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(acknowledgment.reason.length).toBeGreaterThanOrEqual(40);
    }
  });
});

describe('cdk-nag AwsSolutions on a widened stack', () => {
  afterAll(() => {
    removeSynthOutputs();
  });

  it('reports a wildcard grant that no acknowledgment covers', () => {
    // Prepare
    const { app, stack } = synthStack({ instanceName: 'widened' });
    stack.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [stack.bucket.arnForObjects('*')] }),
    );

    // Act
    const report = new AwsSolutionsChecks(app).validateScope(app);

    // Assess
    expect(report.violations.map((violation) => violation.ruleName)).toEqual([
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<Bucket[0-9A-F]+\.Arn>\/\*\]$/),
    ]);
  });
});
