/**
 * CPU time of the processes of a scenario, to show where a run's time goes on a machine whose cores are all busy:
 * this process (the S3 proxy and the Dropbox emulator or the sink), s3rver (a child of this process), and the
 * measured child (which reports its own). Read from /proc; `undefined` where there is no /proc.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc's CPU times (Linux's USER_HZ). */
const TICKS_PER_SECOND = 100;

async function readStat(pid: string): Promise<string[] | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch (error) {
    if (error instanceof Error && 'code' in error && (error.code === 'ENOENT' || error.code === 'ESRCH'))
      return undefined;
    throw error;
  }
}

/** The pid of this process's child whose command line contains `pattern`. */
export async function findChildProcess(pattern: string): Promise<string | undefined> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
  for (const pid of pids) {
    const stat = await readStat(pid);
    // After the command name: state (0), ppid (1).
    if (stat?.[1] !== String(process.pid)) continue;
    const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (command.includes(pattern)) return pid;
  }
  return undefined;
}

/** User + system CPU seconds of process `pid` so far. */
export async function readCpuSeconds(pid: string | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const stat = await readStat(pid);
  // utime and stime are fields 14 and 15 of /proc/PID/stat: 11 and 12 after the command name.
  if (stat === undefined) return undefined;
  return (Number(stat[11]) + Number(stat[12])) / TICKS_PER_SECOND;
}

/** This process's user + system CPU seconds so far. */
export function readOwnCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** CPU seconds spent by each process of a run. */
export interface CpuSeconds {
  /** The measured process (the function, or the raw baseline's reader). */
  readonly measured: number;
  /** This process: the S3 proxy, the SQS/SSM emulators, and the embedded Dropbox emulator or the sink. */
  readonly stack: number;
  readonly s3rver: number | undefined;
  /** A Dropbox emulator in a process of its own, when the run used one. */
  readonly dropbox?: number | undefined;
}

/**
 * Starts counting; the returned function gives the CPU seconds since, given the measured child's own. `dropboxPid`
 * is a Dropbox emulator's own process, counted apart.
 */
export async function startCpuCount(dropboxPid?: string): Promise<(measured: number) => Promise<CpuSeconds>> {
  const s3rver = await findChildProcess('s3rver-child');
  const stackFrom = readOwnCpuSeconds();
  const s3rverFrom = await readCpuSeconds(s3rver);
  const dropboxFrom = await readCpuSeconds(dropboxPid);
  return async (measured) => {
    const s3rverTo = await readCpuSeconds(s3rver);
    const dropboxTo = await readCpuSeconds(dropboxPid);
    const round = (value: number): number => Math.round(value * 100) / 100;
    const since = (from: number | undefined, to: number | undefined) =>
      from === undefined || to === undefined ? undefined : round(to - from);
    return {
      measured: round(measured),
      stack: round(readOwnCpuSeconds() - stackFrom),
      s3rver: since(s3rverFrom, s3rverTo),
      ...(dropboxPid === undefined ? {} : { dropbox: since(dropboxFrom, dropboxTo) }),
    };
  };
}
