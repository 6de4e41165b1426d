// Types for the parts of kong-pdk 0.6.0 our plugin server builds on (the package ships none).

declare module "kong-pdk/lib/pipe" {
  /** One end of a PipePair: get() waits for the other end's put(). */
  interface Pipe {
    get(): Promise<unknown>;
    put(value: unknown): void;
  }
  /** Two connected pipes: the server's end and the plugin's end of one event. */
  class PipePair {
    getPair(): [Pipe, Pipe];
  }
  export = PipePair;
}

declare module "kong-pdk/pdk" {
  import type PipePair = require("kong-pdk/lib/pipe");
  /** The `kong` object handed to a plugin phase: every call goes through the pipe to Kong. */
  class PDK {
    constructor(pipe: ReturnType<PipePair["getPair"]>[number]);
    readonly kong: unknown;
  }
  export = PDK;
}

declare module "kong-pdk/lib/mod" {
  /** A running plugin instance (one per StartInstance). */
  export class Instance {
    readonly name: string;
    close(): void;
    executePhase(phase: string, kong: unknown): unknown;
    getName(): string;
    getConfig(): unknown;
    getStartTime(): number;
    resetExpireTs(): unknown;
  }
  /** A loaded plugin module (index exports Plugin, Name, Version, Priority, Schema). */
  export class Module {
    constructor(name: string, path: string);
    readonly name: string;
    /** The plugin's module exports, as required. */
    readonly mod: Readonly<Record<string, unknown>>;
    new(config: unknown): Instance;
    getPhases(): string[];
    getPriority(): number;
    getVersion(): string;
    getSchema(): unknown[];
    getMTime(): number;
    getLoadTime(): number;
    getLastStartInstanceTime(): number;
    getLastCloseInstanceTime(): number;
  }
}
