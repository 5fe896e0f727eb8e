/**
 * Scenario **wan**: the Dropbox emulator adds 40 ms before each request and reads each request body no faster than
 * 20 MiB/s (a per-connection cap, as a long path to Dropbox gives), in a process of its own in its hash-only store
 * mode. The same 1 GiB object through the sync path with
 * its default settings, against the same bytes in one sequential session: the sync path with one chunk in flight and
 * rclone's 48 MiB chunks. Target: ≥ 3 × the sequential session's throughput.
 */
import { type BenchContext, MIB, round, type Target } from '../support/context.ts';
import { startHashOnlyDropbox } from '../support/dropbox.ts';
import { runSync, type SyncRun } from '../support/sync-run.ts';
import { type LargeObject, syncOptions } from './large.ts';

/** The emulator's conditions in this scenario. */
export const WAN_FAULTS = { latencyMs: 40, bandwidthBytesPerSec: 20 * MIB } as const;

/** The scenario's result. */
export interface WanResult {
  readonly conditions: typeof WAN_FAULTS;
  readonly sequential: SyncRun;
  readonly concurrent: SyncRun;
  readonly speedup: number;
  readonly targets: Record<string, Target>;
}

/** Runs the sequential baseline, then the default settings, under the WAN conditions. */
export async function runWan(context: BenchContext, object: LargeObject): Promise<WanResult> {
  // The emulator in a process of its own: in the bench's process it shared one event loop with the S3 proxy, and
  // its four throttled uploads slowed the function's reads of the next pieces to about 40 MiB/s.
  const dropbox = await startHashOnlyDropbox(context.scratch, WAN_FAULTS);
  try {
    const common = syncOptions(object, dropbox);
    const sequential = await runSync(context, {
      ...common,
      label: 'wan sequential',
      baseFolder: '/Bench wan sequential',
      env: { UPLOAD_CHUNKS_IN_FLIGHT: '1', UPLOAD_CHUNK_MIB: '48' },
    });
    context.log(`wan: one sequential session ${sequential.mibPerSecond} MiB/s`);
    const concurrent = await runSync(context, { ...common, label: 'wan', baseFolder: '/Bench wan' });
    context.log(`wan: sync ${concurrent.mibPerSecond} MiB/s`);
    const speedup = round(concurrent.mibPerSecond / sequential.mibPerSecond, 2);
    return {
      conditions: WAN_FAULTS,
      sequential,
      concurrent,
      speedup,
      targets: { speedup: { target: '>= 3 x one sequential session', measured: speedup, met: speedup >= 3 } },
    };
  } finally {
    await dropbox.close();
  }
}
