// A clock the tests move forward inside a plugin-server process, so that time-based behaviour
// (the JWKS refetch cooldown, at least 1 s) is tested without waiting for real time to pass.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Preloaded into the plugin server (NODE_OPTIONS --require): Date.now, which the plugin's JWKS
 * registry, token cache and expiry checks read, returns the real time plus the offset in the
 * file beside it, read on every call so that a test's advance() applies to the next request.
 */
const CLOCK_PRELOAD_SOURCE = `"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const offsetFile = join(__dirname, "offset-ms");
const realNow = Date.now;
Date.now = () => realNow() + Number(readFileSync(offsetFile, "utf8"));
`;

export class PluginServerClock {
  private offsetMs = 0;

  private constructor(private readonly directory: string) {}

  /** A clock at the real time; pass {@link env} to the driver that starts the plugin server. */
  static create(): PluginServerClock {
    const clock = new PluginServerClock(mkdtempSync(join(tmpdir(), "mcp-oauth2-clock-")));
    writeFileSync(join(clock.directory, "clock.js"), CLOCK_PRELOAD_SOURCE);
    clock.advance(0);
    return clock;
  }

  /** The plugin server's environment: this process's, with the clock preloaded. */
  get env(): NodeJS.ProcessEnv {
    const inherited = process.env["NODE_OPTIONS"] === undefined ? "" : `${process.env["NODE_OPTIONS"]} `;
    return { ...process.env, NODE_OPTIONS: `${inherited}--require ${join(this.directory, "clock.js")}` };
  }

  /** Moves the plugin server's clock forward; the next request sees the new time. */
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
    // Written aside, then renamed: the server never reads a half-written offset.
    writeFileSync(join(this.directory, "offset-ms.next"), String(this.offsetMs));
    renameSync(join(this.directory, "offset-ms.next"), join(this.directory, "offset-ms"));
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}
