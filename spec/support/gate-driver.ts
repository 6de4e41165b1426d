// The real mcp-oauth2 plugin (dist/plugins) on our plugin server, driven by the Kong driver: for
// suites that attack or exercise the plugin through Kong's side of the protocol.
import type { KongDriver, KongRequest, Outcome } from "../../kong/driver";
import { findHeaderValues } from "./gate-requests";
import { startBuiltPluginDriver, type BuiltPluginDriverOptions } from "./plugin-server-fixture";

/** The route the gate protects. */
export const MCP_PATH = "/mcp";

/** A driver whose only route, /mcp, runs mcp-oauth2 with the configured config. */
export interface GateDriver {
  readonly driver: KongDriver;
  /** Replaces the plugin config (Kong fills defaults; the next request starts a new instance). */
  configure(config: Record<string, unknown>): void;
  /** A request on /mcp: POST unless said otherwise. */
  send(request: Partial<KongRequest>): Promise<Outcome>;
  close(): Promise<void>;
}

/** Starts our plugin server on the built plugin (or `pluginsDirectory`) and a driver with `config` on /mcp. */
export async function startGateDriver(config: Record<string, unknown>, options: BuiltPluginDriverOptions = {}): Promise<GateDriver> {
  const routesFor = (pluginConfig: Record<string, unknown>) => [{ id: "mcp", paths: [MCP_PATH], plugins: [{ id: "mcp-oauth2-on-mcp", config: pluginConfig }] }];
  const { driver, close } = await startBuiltPluginDriver("ours", { routes: routesFor(config), ...options });
  return {
    driver,
    configure: (pluginConfig) => driver.configureRoutes(routesFor(pluginConfig)),
    send: (request) => driver.handle({ method: "POST", path: MCP_PATH, ...request }),
    close,
  };
}

/** Every log line a driver kept: Kong's error log (plugin and Kong lines) and the plugin server's output. */
export function collectDriverLogLines(driver: KongDriver): string[] {
  return [...driver.logs.map((entry) => entry.message), ...driver.serverStdout, ...driver.serverStderr];
}

function readErrorCode(body: Buffer): string {
  try {
    const error = (JSON.parse(body.toString("utf8")) as { error?: unknown }).error;
    if (typeof error === "string") return error;
    const code = (error as { code?: unknown } | undefined)?.code;
    return typeof code === "number" ? `jsonrpc ${code}` : "no error code";
  } catch {
    return "non-JSON body";
  }
}

/**
 * An outcome in one comparable line: "proceed" (verified), "proceed unverified", or
 * "<status> <error code> from <source>" (the body's OAuth error, or its JSON-RPC error code).
 */
export function summarizeOutcome(outcome: Outcome): string {
  if (outcome.kind === "proceed") return outcome.verified ? "proceed" : "proceed unverified";
  return `${outcome.status} ${readErrorCode(outcome.body)} from ${outcome.source}`;
}

/** The value of a response header of an exit outcome (first match, case-insensitive). */
export function readResponseHeader(outcome: Outcome, name: string): string | undefined {
  return outcome.kind === "exit" ? findHeaderValues(outcome.headers, name)[0] : undefined;
}
