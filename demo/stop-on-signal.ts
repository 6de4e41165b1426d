/**
 * Signals that arrive this soon after the first are copies: `npm start` forwards the signal it gets
 * to this process, which a terminal's Ctrl-C has already reached.
 */
const DUPLICATE_SIGNAL_MS = 1000;

/**
 * Runs `stop` on the first SIGINT (Ctrl-C) or SIGTERM, then exits: 0 when everything closed,
 * 1 when closing failed. Another signal later during the shutdown (a second Ctrl-C) exits at once
 * with 1.
 */
export function stopOnSignal(stop: () => Promise<void>, log: (line: string) => void): void {
  let stoppingSince: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return;
      log(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stoppingSince = Date.now();
    log(`${signal}: stopping`);
    stop().then(
      () => {
        log("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        log(`stopping failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
