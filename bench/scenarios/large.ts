/**
 * Scenario **large**: a 1 GiB object through the sync path (the bundled function in a child process: HeadObject,
 * tags, rules, get_metadata, ranged GetObject calls into a concurrent upload session, HeadObject again), against a
 * raw baseline measured in the same run: the same object streamed by one GetObject into a plain HTTP sink on
 * loopback that counts and hashes it. Runs alternate, baseline first; the ratio is of the medians.
 * Targets: ≥ 0.8 of the baseline's throughput, peak RSS ≤ 384 MiB, ≤ 20 Dropbox calls per GiB.
 */
import type { SQSRecord } from 'aws-lambda';
import { forkChild } from '../support/child.ts';
import { type BenchContext, GIB, MIB, median, round } from '../support/context.ts';
import { type CpuSeconds, startCpuCount } from '../support/cpu.ts';
import { startSink } from '../support/sink.ts';
import { runSync, type SyncRun } from '../support/sync-run.ts';

/** The object the large and wan scenarios sync. */
export interface LargeObject {
  readonly key: string;
  readonly fileName: string;
  readonly size: number;
  readonly contentHash: string;
  readonly record: SQSRecord;
  readonly warmUp: SQSRecord;
}

/** One run of the raw baseline. */
export interface RawRun {
  readonly seconds: number;
  readonly mibPerSecond: number;
  readonly peakRssMiB: number;
  readonly contentHashVerified: boolean;
  readonly cpuSeconds: CpuSeconds;
}

/** The scenario's result. */
export interface LargeResult {
  readonly sizeMiB: number;
  readonly raw: readonly RawRun[];
  readonly sync: readonly SyncRun[];
  readonly rawMedianMiBps: number;
  readonly syncMedianMiBps: number;
  readonly throughputRatio: number;
  readonly peakRssMiB: number;
  readonly dropboxCallsPerGiB: number;
  readonly dropboxUploadCallsPerGiB: number;
  /** The same sync with three chunks in flight: the memory the fourth costs, and what it buys. */
  readonly threeInFlight: SyncRun;
  readonly targets: Record<
    string,
    { readonly target: string; readonly measured: number; readonly met: boolean }
  >;
}

/** Streams the object into the sink from a child process, once. */
export async function runRaw(context: BenchContext, object: LargeObject): Promise<RawRun> {
  const sink = await startSink();
  const countCpu = await startCpuCount();
  const child = forkChild(
    context.bundles.rawChild.file,
    { bucket: context.stack.bucket, key: object.key, sinkUrl: sink.url },
    context.stack.functionEnv(),
  );
  try {
    await child.receive('ready');
    child.send({ type: 'run' });
    const done = await child.receive('done');
    if (done.error !== undefined) throw new Error(`raw baseline: ${String(done.error)}`);
    child.send({ type: 'exit' });
    const peak = await child.receive('peak');
    const cpuSeconds = await countCpu(Number(peak.cpuSeconds));
    const seconds = Number(done.ms) / 1000;
    return {
      seconds: round(seconds, 3),
      mibPerSecond: round(object.size / MIB / seconds, 1),
      peakRssMiB: round(Number(peak.peakRssBytes) / MIB, 1),
      contentHashVerified: done.contentHash === object.contentHash && done.bytes === object.size,
      cpuSeconds,
    };
  } finally {
    await child.exit();
    await sink.close();
  }
}

/** Runs the scenario `repeat` times (baseline, then sync). */
export async function runLarge(
  context: BenchContext,
  object: LargeObject,
  repeat: number,
): Promise<LargeResult> {
  const raw: RawRun[] = [];
  const sync: SyncRun[] = [];
  for (let round = 1; round <= repeat; round += 1) {
    const baseline = await runRaw(context, object);
    raw.push(baseline);
    context.log(`large ${round}/${repeat}: raw baseline ${baseline.mibPerSecond} MiB/s`);
    const run = await runSync(context, {
      label: `large ${round}`,
      baseFolder: `/Bench large ${round}`,
      warmUp: object.warmUp,
      record: object.record,
      fileName: object.fileName,
      size: object.size,
      contentHash: object.contentHash,
    });
    sync.push(run);
    context.log(
      `large ${round}/${repeat}: sync ${run.mibPerSecond} MiB/s, peak RSS ${run.peakRssMiB} MiB, ${run.dropboxCalls} Dropbox calls`,
    );
  }
  const threeInFlight = await runSync(context, {
    label: 'large, 3 in flight',
    baseFolder: '/Bench large 3 in flight',
    env: { UPLOAD_CHUNKS_IN_FLIGHT: '3' },
    warmUp: object.warmUp,
    record: object.record,
    fileName: object.fileName,
    size: object.size,
    contentHash: object.contentHash,
  });
  context.log(
    `large, 3 in flight: sync ${threeInFlight.mibPerSecond} MiB/s, peak RSS ${threeInFlight.peakRssMiB} MiB`,
  );
  const rawMedian = median(raw.map((run) => run.mibPerSecond));
  const syncMedian = median(sync.map((run) => run.mibPerSecond));
  const gib = object.size / GIB;
  const peakRssMiB = Math.max(...sync.map((run) => run.peakRssMiB));
  const callsPerGiB = round(Math.max(...sync.map((run) => run.dropboxCalls)) / gib, 1);
  const uploadCallsPerGiB = round(Math.max(...sync.map((run) => run.dropboxUploadCalls)) / gib, 1);
  const ratio = round(syncMedian / rawMedian, 2);
  return {
    sizeMiB: object.size / MIB,
    raw,
    sync,
    rawMedianMiBps: rawMedian,
    syncMedianMiBps: syncMedian,
    throughputRatio: ratio,
    peakRssMiB,
    dropboxCallsPerGiB: callsPerGiB,
    dropboxUploadCallsPerGiB: uploadCallsPerGiB,
    threeInFlight,
    targets: {
      throughputRatio: { target: '>= 0.8 of the raw baseline', measured: ratio, met: ratio >= 0.8 },
      peakRssMiB: { target: '<= 384 MiB', measured: peakRssMiB, met: peakRssMiB <= 384 },
      dropboxCallsPerGiB: { target: '<= 20', measured: callsPerGiB, met: callsPerGiB <= 20 },
    },
  };
}
