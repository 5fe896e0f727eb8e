/**
 * The CDK app: one {@link TicketDropboxSyncStack} configured from context, checked by cdk-nag's AwsSolutions pack.
 * Environment-agnostic (the account and region come from the deploying credentials), so `cdk synth` needs none.
 */
import { App } from 'aws-cdk-lib';
import { readDeploymentPropsFromContext } from './context.ts';
import { applyNagChecks } from './nag.ts';
import { defaultStackName, TicketDropboxSyncStack } from './stack.ts';
import { DEPLOYMENT_DEFAULTS, InvalidDeploymentPropsError } from './stack-settings.ts';

function synthesize(): void {
  const app = new App();
  const props = readDeploymentPropsFromContext(app.node);
  const stackName = defaultStackName(props.instanceName ?? DEPLOYMENT_DEFAULTS.instanceName);
  new TicketDropboxSyncStack(app, stackName, { ...props, stackName });
  applyNagChecks(app);
  app.synth();
}

try {
  synthesize();
} catch (error) {
  // A wrong prop is the deployer's to fix: its messages, not a stack trace.
  if (!(error instanceof InvalidDeploymentPropsError)) throw error;
  console.error(
    `ticket-dropbox-sync: invalid deployment settings\n${error.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  process.exitCode = 1;
}
