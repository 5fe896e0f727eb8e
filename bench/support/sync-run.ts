/**
 * One sync of one object through the function in a child process (invoke mode), measured: the handler's time, the
 * Dropbox and S3 calls it made (from the emulators' logs), the child's peak RSS, and the exported file's hash.
 */
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { forkChild } from './child.ts';
import { type BenchContext, countBy, isUploadRoute, MIB, round } from './context.ts';
import { type CpuSeconds, startCpuCount } from './cpu.ts';
import { type BenchDropbox, embeddedDropbox } from './dropbox.ts';

/** What one measured sync gave. */
export interface SyncRun {
  readonly label: string;
  readonly seconds: number;
  readonly mibPerSecond: number;
  readonly peakRssMiB: number;
  /** The child's RSS once the function was loaded, before any work. */
  readonly loadedRssMiB: number;
  readonly dropboxCalls: number;
  readonly dropboxUploadCalls: number;
  readonly dropboxCallsByRoute: Record<string, number>;
  readonly s3CallsByAction: Record<string, number>;
  readonly contentHashVerified: boolean;
  /** Data calls Dropbox took (upload routes with a body) whose Dropbox-API-Arg declared no content_hash. */
  readonly dataCallsWithoutContentHash: number;
  /** The Dropbox calls of the measured sync: route, bytes received, start and end (ms from the first call). */
  readonly timeline: ReadonlyArray<readonly [string, number, number, number]>;
  /** CPU seconds of the whole run (warm-up included) per process. */
  readonly cpuSeconds: CpuSeconds;
  /** CPU seconds of the function's process during the measured sync alone. */
  readonly workCpuSeconds: number;
}

/** Options of {@link runSync}. */
export interface SyncRunOptions {
  readonly label: string;
  /** The Dropbox base folder for this run (a fresh one, so that nothing is "already exported"). */
  readonly baseFolder: string;
  /** Extra function environment (`UPLOAD_CHUNK_MIB`, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Synced first, unmeasured: the token, the account's root, the settings and the SDKs warm up on it. */
  readonly warmUp: SQSRecord;
  readonly record: SQSRecord;
  /** The Dropbox the function exports to. @default the stack's embedded emulator */
  readonly dropbox?: BenchDropbox;
  /** The object's S3 key, its name in Dropbox, its size and its content hash. */
  readonly objectKey: string;
  readonly fileName: string;
  readonly size: number;
  readonly contentHash: string;
}

function failedIds(response: unknown): string[] {
  const failures = (response as SQSBatchResponse | undefined)?.batchItemFailures ?? [];
  return failures.map((failure) => failure.itemIdentifier);
}

/** Runs one measured sync in a fresh child. */
export async function runSync(context: BenchContext, options: SyncRunOptions): Promise<SyncRun> {
  const { stack, bundles } = context;
  const dropbox = options.dropbox ?? embeddedDropbox(stack);
  await stack.setSetting('base-folder', options.baseFolder);
  await stack.forgetExport(options.objectKey);
  const countCpu = await startCpuCount(dropbox.pid);
  const child = forkChild(
    bundles.syncChild.file,
    { handlerBundle: bundles.handler.file, mode: 'invoke' },
    stack.functionEnv({ DROPBOX_ENDPOINT_URL: dropbox.url, ...options.env }),
  );
  try {
    const ready = await child.receive('ready');
    child.send({ type: 'invoke', id: 0, event: { Records: [options.warmUp] } });
    const warm = await child.receive('invoked');
    if (warm.error !== undefined || failedIds(warm.response).length > 0)
      throw new Error(
        `${options.label}: the warm-up sync failed: ${String(warm.error ?? 'batchItemFailures')}`,
      );
    const dropboxFrom = (await dropbox.requestLog()).length;
    const s3From = stack.stack.s3.calls.length;
    child.send({ type: 'invoke', id: 1, event: { Records: [options.record] } });
    const invoked = await child.receive('invoked');
    if (invoked.error !== undefined || failedIds(invoked.response).length > 0)
      throw new Error(`${options.label}: the sync failed: ${String(invoked.error ?? 'batchItemFailures')}`);
    const dropboxLog = await dropbox.requestLog(dropboxFrom);
    const s3Calls = stack.stack.s3.calls.slice(s3From);
    child.send({ type: 'exit' });
    const peak = await child.receive('peak');
    const cpuSeconds = await countCpu(Number(peak.cpuSeconds));
    const path = `${options.baseFolder}/${options.fileName}`;
    const exported = await dropbox.client.getFileMetadata(path);
    const seconds = Number(invoked.ms) / 1000;
    const byRoute = countBy(dropboxLog, (entry) => entry.route);
    const run: SyncRun = {
      label: options.label,
      seconds: round(seconds, 3),
      mibPerSecond: round(options.size / MIB / seconds, 1),
      peakRssMiB: round(Number(peak.peakRssBytes) / MIB, 1),
      loadedRssMiB: round(Number(ready.peakRssBytes) / MIB, 1),
      dropboxCalls: dropboxLog.length,
      dropboxUploadCalls: dropboxLog.filter((entry) => isUploadRoute(entry.route)).length,
      dropboxCallsByRoute: byRoute,
      s3CallsByAction: countBy(s3Calls, (call) => call.action),
      contentHashVerified: exported?.contentHash === options.contentHash && exported.size === options.size,
      dataCallsWithoutContentHash: dropboxLog.filter(
        (entry) =>
          isUploadRoute(entry.route) &&
          entry.bytesIn > 0 &&
          entry.status === 200 &&
          entry.contentHashDeclared !== true,
      ).length,
      cpuSeconds,
      workCpuSeconds: round(Number(invoked.cpuSeconds), 2),
      timeline: dropboxLog.map((entry) => [
        entry.route,
        entry.bytesIn,
        entry.startedAt - (dropboxLog[0]?.startedAt ?? 0),
        (entry.endedAt ?? entry.startedAt) - (dropboxLog[0]?.startedAt ?? 0),
      ]),
    };
    // The exported gigabyte is not needed any more: the next run writes its own.
    await dropbox.removeExported(path);
    return run;
  } finally {
    await child.exit();
  }
}
