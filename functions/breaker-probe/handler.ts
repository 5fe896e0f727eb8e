/**
 * Lambda `breaker-probe`: run every few minutes by EventBridge Scheduler (and on an interval by the local stack).
 * When the circuit breaker holds the flow, it checks the account and starts the flow again once it is healthy; an
 * operator's pause it never touches. Wiring only: the work is in lib/breaker.ts and lib/account-health.ts.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createAccountCheck } from '../../lib/account-health.ts';
import { createSsmClient } from '../../lib/aws/clients.ts';
import { flowControlStoreFromEnv, flowSwitchFromEnv } from '../../lib/aws/flow-control-env.ts';
import { createSettingsLoader } from '../../lib/aws/settings-store.ts';
import {
  type AccountCheck,
  describeProbe,
  type FlowControlStore,
  type FlowSwitch,
  type ProbeOutcome,
  runProbe,
} from '../../lib/breaker.ts';
import { DropboxClient } from '../../lib/dropbox/client.ts';
import { createLogger, createMetrics } from '../../lib/powertools.ts';

/** Everything the probe needs; `runtimeDeps()` builds it from the environment. */
export interface ProbeHandlerDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `undefined` when the environment configures none: the probe then fails, loudly. */
  readonly store: FlowControlStore | undefined;
  readonly flow: FlowSwitch | undefined;
  readonly checkAccount: AccountCheck;
}

/** Builds the probe's dependencies from the environment (`LEDGER_TABLE`, `EVENT_SOURCE_MAPPING_ID`, settings). */
export function runtimeDeps(env: NodeJS.ProcessEnv = process.env): ProbeHandlerDeps {
  const instance = env.INSTANCE_NAME ?? 'default';
  const ssm = createSsmClient({ env });
  // Read afresh every run: an admin's fix shows at the next probe.
  const settings = createSettingsLoader({
    ssm,
    path: env.SETTINGS_PATH ?? `/ticket-dropbox-sync/${instance}/`,
    ttlMs: 0,
  });
  return {
    logger: createLogger(instance),
    metrics: createMetrics(instance),
    store: flowControlStoreFromEnv(env),
    flow: flowSwitchFromEnv(env, ssm),
    checkAccount: createAccountCheck({
      loadSettings: (signal) => settings.load(signal),
      // A client of its own each run, so the refresh token is exchanged for a fresh access token every time.
      dropboxFor: (credentials) =>
        new DropboxClient({ credentials, endpointUrl: env.DROPBOX_ENDPOINT_URL, upload: { maxAttempts: 2 } }),
    }),
  };
}

/** Builds the probe's handler around `deps`. */
export function createHandler(deps: ProbeHandlerDeps) {
  return middy<unknown, ProbeOutcome, Error, Context>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .handler(async (_event, context) => {
      const { store, flow } = deps;
      if (store === undefined || flow === undefined) {
        throw new Error('the breaker probe needs LEDGER_TABLE and a flow switch (EVENT_SOURCE_MAPPING_ID)');
      }
      const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
      const outcome = await runProbe({
        store,
        flow,
        checkAccount: deps.checkAccount,
        signal: AbortSignal.timeout(Math.max(1000, remaining - 2000)),
      });
      // 1 while the breaker holds the flow: the breaker-open alarm stays raised until the flow runs again.
      deps.metrics.addMetric('BreakerOpen', MetricUnit.Count, outcome.holder === 'breaker' ? 1 : 0);
      const attributes = {
        holder: outcome.holder,
        action: outcome.action,
        ...(outcome.result ? { account: describeProbe(outcome.result) } : {}),
      };
      if (outcome.action === 'released')
        deps.logger.info('breaker released: the flow runs again', attributes);
      else if (outcome.action === 'kept') deps.logger.warn('breaker kept open', attributes);
      else deps.logger.info('nothing to probe', attributes);
      return outcome;
    });
}

export const handler = createHandler(runtimeDeps());
