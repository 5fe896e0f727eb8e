/**
 * The soak's incidents besides the steady faults (issue 12): one hung S3 call, and an account-wide outage in the
 * middle of the run. Each one is started by the run, watched, and described in the report with what the verifier
 * then found for it.
 */
import type { RecordFailure } from '../../lib/sqs-record.ts';
import type { LocalS3 } from '../emulators/s3/server.ts';
import { expectationOf, type SoakObject } from './population.ts';
import type { RecordedOutcome } from './verify.ts';

/** The S3 operation left unanswered once. */
const HUNG_ACTION = 'HeadObject';

/** A hung S3 call being watched. */
export interface HungCall {
  readonly key: string;
  readonly action: string;
  /** When the call was left unanswered (epoch ms), once it was. */
  hungAt(): number | undefined;
  /** Lifts the fault if it is still in force. */
  stop(): void;
}

/**
 * The object whose S3 call hangs: a small ticket file that exports at upload, has a name of its own and is left
 * alone during the run, so that its one outcome tells what the hang did.
 */
export function pickHangTarget(objects: readonly SoakObject[]): SoakObject | undefined {
  return objects.find(
    (object) =>
      object.kind === 'ticket' &&
      object.nameGroup === undefined &&
      object.mutation === 'none' &&
      (object.versions[0]?.size ?? 0) > 0 &&
      (object.versions[0]?.size ?? 0) < 1024 * 1024 &&
      expectationOf(object).export,
  );
}

/**
 * Makes the first `HeadObject` of `key` hang (the local S3 never answers it), then lifts the fault as soon as one
 * request hung, so that exactly one call hangs: the function's S3 client must give up on it at its request timeout
 * (`AWS_REQUEST_TIMEOUT_MS`, 30 s by default) and the record still export, while the other records go on.
 */
export function hangOneS3Call(s3: LocalS3, key: string): HungCall {
  let hungAt: number | undefined;
  const before = s3.hungRequests;
  s3.setFaults({ hang: { actions: [HUNG_ACTION], keyIncludes: key } });
  const watch = setInterval(() => {
    if (s3.hungRequests > before) {
      hungAt = Date.now();
      s3.setFaults({});
      clearInterval(watch);
    }
  }, 20);
  watch.unref();
  return {
    key,
    action: HUNG_ACTION,
    hungAt: () => hungAt,
    stop() {
      clearInterval(watch);
      if (hungAt === undefined) s3.setFaults({});
    },
  };
}

/** The report's line of the hung call: when it hung, how the record failed meanwhile, and when it exported. */
export function describeHungCall(
  call: HungCall,
  outcomes: readonly RecordedOutcome[],
  failures: readonly RecordFailure[],
  exportedPath: string | undefined,
): string {
  const at = call.hungAt();
  if (at === undefined) return `FAILED: no ${call.action} of ${call.key} was ever made, so none hung`;
  const exported = outcomes.find(
    (recorded) => recorded.outcome.key === call.key && recorded.outcome.decision === 'exported',
  );
  const failed = failures.filter((failure) => failure.key === call.key);
  const meanwhile =
    failed.length === 0
      ? 'the SDK gave up on it and its retry answered, within the record'
      : `the record failed ${failed.length} time(s) meanwhile (${[...new Set(failed.map((f) => `${f.kind}/${f.code}`))].join(', ')})`;
  if (exported === undefined || exportedPath === undefined) {
    return `FAILED: ${call.action} of ${call.key} hung, and the object was not exported afterwards`;
  }
  return `${call.action} of ${call.key} left unanswered; ${meanwhile}; exported ${Math.round((exported.at - at) / 1000)} s later to ${exportedPath}`;
}
