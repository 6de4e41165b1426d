/**
 * Runs `stop` on the first SIGINT (Ctrl-C) or SIGTERM, then exits: 0 when everything closed,
 * 1 when closing failed. A second signal during the shutdown exits at once with 1.
 */
export function stopOnSignal(stop: () => Promise<void>, log: (line: string) => void): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
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
