/**
 * Does locally what EventBridge Scheduler does for the breaker's probe in AWS: runs the probe function's own handler
 * every few seconds (the stack's default is the deployed schedule's 5 minutes; tests shorten it), one run at a time.
 */
import type { Context } from 'aws-lambda';
import { createHandler, runtimeDeps } from '../../functions/breaker-probe/handler.ts';
import type { ProbeOutcome } from '../../lib/breaker.ts';

/** Options of {@link startProbeLoop}. */
export interface ProbeLoopOptions {
  /** The probe's environment (the local stack's: endpoints, `LEDGER_TABLE`, `FLOW_PAUSE_FILE`, settings path). */
  readonly env: NodeJS.ProcessEnv;
  readonly intervalMs: number;
  readonly onOutcome?: (outcome: ProbeOutcome) => void;
  readonly onError?: (error: unknown) => void;
}

/** A running probe loop. */
export interface ProbeLoop {
  /** Runs the probe once now (after a run already under way). */
  runOnce(): Promise<ProbeOutcome>;
  stop(): Promise<void>;
}

function probeContext(): Context {
  const deadline = Date.now() + 60_000;
  return {
    functionName: 'breaker-probe-local',
    awsRequestId: crypto.randomUUID(),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as Context;
}

/** Starts the loop; the first run comes after one interval. */
export function startProbeLoop(options: ProbeLoopOptions): ProbeLoop {
  const handler = createHandler(runtimeDeps(options.env));
  let running: Promise<ProbeOutcome> = Promise.resolve({ holder: 'none', action: 'none' });
  const runOnce = (): Promise<ProbeOutcome> => {
    running = running
      .catch(() => undefined)
      .then(() => handler({}, probeContext()))
      .then((outcome) => {
        options.onOutcome?.(outcome);
        return outcome;
      });
    return running;
  };
  const timer = setInterval(() => {
    runOnce().catch((error: unknown) => options.onError?.(error));
  }, options.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
