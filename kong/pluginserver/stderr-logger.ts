/** The plugin server's log: one line per message on stderr (stdout is reserved for the dumps). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

type Level = keyof Logger;

/** A logger writing "<ISO time> [level] message" to stderr; debug lines only when `verbose`. */
export function createStderrLogger(verbose: boolean): Logger {
  const write = (level: Level) => (message: string) => {
    process.stderr.write(`${new Date().toISOString()} [${level}] ${message}\n`);
  };
  return {
    debug: verbose ? write("debug") : () => undefined,
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}
