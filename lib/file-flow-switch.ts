/**
 * The {@link FlowSwitch} of the local stack: its poller takes no record while the pause file exists, as Lambda polls
 * nothing while the event source mapping is disabled. The file holds who paused the flow and why, for a person who
 * looks; `status` reads the control item.
 */
import { rm, writeFile } from 'node:fs/promises';
import type { FlowSwitch } from './breaker.ts';

/** The pause file as a flow switch. */
export function createFileFlowSwitch(pauseFile: string): FlowSwitch {
  return {
    async setEnabled(enabled, note) {
      if (enabled) await rm(pauseFile, { force: true });
      else await writeFile(pauseFile, `${note}\n`);
      return undefined;
    },
  };
}
