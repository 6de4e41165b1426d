// Shared by the speed scripts and the memory test: keep a driver busy with a fixed concurrency.
import type { KongDriver, KongRequest } from "../../kong/driver";

/** Sends `total` requests through `driver.handle`, `concurrency` at a time; returns requests per second. */
export async function sendRequests(driver: KongDriver, request: KongRequest, total: number, concurrency: number): Promise<number> {
  let sent = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (sent < total) {
      sent += 1;
      await driver.handle(request);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total / seconds;
}

/** The resident set size of a process, in MiB (Linux /proc). */
export async function readResidentMemoryMiB(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kibibytes = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kibibytes / 1024;
}
