// Shared by the speed scripts and the memory test: keep a driver busy with a fixed concurrency.
import { readFile } from "node:fs/promises";
import type { KongDriver, KongRequest, Outcome, UpstreamCall } from "../../kong/driver";

/** What one load run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  /** Each request's latency (driver.handle call to outcome), in milliseconds, by request index. */
  latenciesMs: Float64Array;
}

/**
 * Sends `total` requests through `driver.handle`, `concurrency` at a time, and times each one.
 * `requestAt(index)` builds request `index` (prepare anything costly before: it runs in the loop);
 * `inspect` sees every outcome (a throw stops the run); `upstream` answers buffered requests.
 */
export async function measureLoad(
  driver: KongDriver,
  requestAt: (index: number) => KongRequest,
  total: number,
  concurrency: number,
  inspect: (outcome: Outcome) => void = () => undefined,
  upstream?: UpstreamCall,
): Promise<LoadResult> {
  const latenciesMs = new Float64Array(total);
  let sent = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (sent < total) {
      const index = sent++;
      const request = requestAt(index);
      const begun = performance.now();
      const outcome = await driver.handle(request, upstream);
      latenciesMs[index] = performance.now() - begun;
      inspect(outcome);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { requestsPerSecond: total / ((performance.now() - started) / 1000), latenciesMs };
}

/** Sends `total` requests through `driver.handle`, `concurrency` at a time; returns requests per second. */
export async function sendRequests(driver: KongDriver, request: KongRequest, total: number, concurrency: number): Promise<number> {
  return (await measureLoad(driver, () => request, total, concurrency)).requestsPerSecond;
}

/** The resident set size of a process, in MiB (Linux /proc). */
export async function readResidentMemoryMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kibibytes = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kibibytes / 1024;
}

/** Linux reports process times in USER_HZ ticks, 100 per second on every mainstream kernel build. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) processes have used so far, together, in seconds (Linux /proc, 10 ms resolution). */
export async function readCpuSeconds(...pids: number[]): Promise<number> {
  let seconds = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    seconds += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }
  return seconds;
}
