/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal: piped or logged output gets the final
 * summary alone, with no carriage-return noise.
 */
import type { CliIo } from './io.ts';

/** A progress display. */
export interface ProgressBar {
  /** Shows `done` of `total` (an unknown total shows a count only). */
  update(done: number, total?: number | undefined, note?: string): void;
  /** Clears the line. */
  done(): void;
}

const BAR_WIDTH = 24;
/** Redraws at most this often: a fast loop must not spend its time drawing. */
const MIN_REDRAW_MS = 100;

const silent: ProgressBar = { update() {}, done() {} };

/** Creates a progress bar labelled `label`; a no-op when stderr is not a terminal. */
export function createProgressBar(io: CliIo, label: string, now: () => number = Date.now): ProgressBar {
  if (!io.stderrIsTty) return silent;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total, note) {
      const time = now();
      if (drawn && time - lastDraw < MIN_REDRAW_MS && (total === undefined || done < total)) return;
      lastDraw = time;
      drawn = true;
      let text: string;
      if (total !== undefined && total > 0) {
        const ratio = Math.min(1, done / total);
        const filled = Math.round(ratio * BAR_WIDTH);
        text = `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
      } else {
        text = `${label} ${done}`;
      }
      io.stderr.write(`\r\u001b[2K${text}${note === undefined ? '' : ` ${note}`}`);
    },
    done() {
      if (drawn) io.stderr.write('\r\u001b[2K');
      drawn = false;
    },
  };
}
