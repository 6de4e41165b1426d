// What happened to one request, as tests need to see it: Kong's answer, or the request Kong sends
// upstream; with the PDK conversation, the logs, and whether Kong failed open.
import { getConsumer, getCredential, serializeValues } from "./client-consumers";
import type { FailOpen, PdkCall } from "./event-bridge";
import type { HeaderList } from "./header-list";
import type { LogEntry, PdkRequestState } from "./kong-pdk-emulation";
import type { KongResponse } from "./kong-response";
import { buildExitResponse } from "./kong-response";
import { createLuaTable, LuaError, luaValueToMsgpack } from "./lua-values";

/** The ctx.shared key the mcp-oauth2 plugin sets on every request it lets through. */
export const VERIFIED_CONTEXT_KEY = "mcp_oauth2";

/**
 * The body of the 503 the native guard answers with: the post-function of kong/kong.yml, which
 * refuses a request nobody answered and mcp-oauth2 did not mark (it also sends Retry-After: 5).
 */
export const NATIVE_GUARD_BODY = {
  error: "temporarily_unavailable",
  error_description: "the authorization check is unavailable",
} as const;

/** The request Kong proxies. Header names/values and path are byte strings. */
export interface UpstreamRequest {
  method: string;
  /** Full upstream URL when the route has an upstream. */
  url: string | undefined;
  /** Request target sent upstream (path and query). */
  path: string;
  headers: HeaderList;
  /** The body a plugin set (kong.service.request.set_raw_body); the client's when absent. */
  body?: Buffer;
}

interface OutcomeCommon {
  routeId: string | undefined;
  requestId: string;
  /** Every PDK call the plugin made, in order. */
  pdkCalls: PdkCall[];
  /** Calls to methods Kong does not expose, answered with nil. */
  unknownPdkCalls: string[];
  /** kong.log.* lines from the plugin and Kong's own log lines for this request. */
  logs: LogEntry[];
  /** kong.ctx.shared after the phase, as a plugin reading it back would see each value. */
  ctxShared: Record<string, unknown>;
  /** Whether ctx.shared.mcp_oauth2 was set. */
  verified: boolean;
  /** kong.client.get_consumer() and get_credential() after the phase, as a plugin would read them. */
  consumer: unknown;
  credential: unknown;
  /** What log plugins find in kong.log.serialize() from the kong.log.set_serialize_value calls. */
  serialized: Record<string, unknown>;
  /** Set when the plugin conversation failed and Kong proxied anyway. */
  failOpen: FailOpen | undefined;
  retriedAfterNoPluginInstance: boolean;
  /** The native guard refused a request that would have been proxied unverified. */
  guardFired: boolean;
}

/** Kong answered itself. `source`: the plugin, Kong (a Lua error's 500), the native guard, or the router. */
export interface ExitOutcome extends OutcomeCommon {
  kind: "exit";
  source: "plugin" | "kong" | "native-guard" | "router";
  status: number;
  headers: HeaderList;
  body: Buffer;
}

/**
 * What Kong sends after buffered proxying. `source`: the service's response as it was, a plugin's
 * kong.response.exit in the response phase, Kong's 500 for a phase that raised, or the native guard.
 */
export interface BufferedProxyResponse {
  source: "service" | "plugin" | "kong" | "native-guard";
  status: number;
  headers: HeaderList;
  body: Buffer;
  /** Every PDK call of the response phase, in order. */
  pdkCalls: PdkCall[];
}

/** Kong proxies the request. */
export interface ProceedOutcome extends OutcomeCommon {
  kind: "proceed";
  upstreamRequest: UpstreamRequest;
  /** A plugin with a response phase is on the route and none turned buffering off: Kong captures the whole upstream response first. */
  bufferedProxying: boolean;
  /** With buffered proxying, when the driver was given the upstream to call: what Kong then sends. */
  response?: BufferedProxyResponse;
}

export type Outcome = ExitOutcome | ProceedOutcome;

/** The shared parts of an outcome, before Kong's decision is known. */
export type OutcomeDetails = Omit<OutcomeCommon, "ctxShared" | "verified" | "guardFired" | "consumer" | "credential" | "serialized">;

/** What Kong does after the access phase: answer itself (`source` says who decided), or proxy. */
export type Decision =
  | { kind: "exit"; source: ExitOutcome["source"]; response: KongResponse }
  | { kind: "proceed"; upstreamRequest: UpstreamRequest; bufferedProxying: boolean; response?: BufferedProxyResponse };

/** The native guard's 503: NATIVE_GUARD_BODY with Retry-After: 5. */
export function buildNativeGuardResponse(): KongResponse {
  return buildExitResponse(503, createLuaTable(Object.entries(NATIVE_GUARD_BODY)), createLuaTable([["Retry-After", "5"]]), () => undefined);
}

/**
 * The body the native guard (header_filter and body_filter of kong/kong.yml's post-function)
 * sends instead of a response to a list request that no plugin answered.
 */
export const NATIVE_LIST_GUARD_BODY = '{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"the list response could not be filtered"}}';

/** The native guard's 502 over the service's headers: its Content-Type, no Content-Length (the body changed). */
export function buildNativeListGuardResponse(serviceHeaders: HeaderList): { status: number; headers: HeaderList; body: Buffer } {
  const kept = serviceHeaders.filter(([name]) => !["content-type", "content-length"].includes(name.toLowerCase()));
  return { status: 502, headers: [...kept, ["Content-Type", "application/json"]], body: Buffer.from(NATIVE_LIST_GUARD_BODY) };
}

/** The serialized values, or none when Kong's log phase would raise (the log plugin then logs nothing). */
function readSerializedValues(state: PdkRequestState, logs: LogEntry[]): Record<string, unknown> {
  try {
    return luaValueToMsgpack(serializeValues(state.serializeValues)) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof LuaError)) throw error;
    logs.push({ level: "err", message: error.message, source: "kong" });
    return {};
  }
}

/** Builds the outcome of a request from the shared details, the request's PDK state and Kong's decision. */
export function buildOutcome(details: OutcomeDetails, state: PdkRequestState, decision: Decision): Outcome {
  const { ctxShared, ngxCtx } = state;
  const common = {
    ...details,
    ctxShared: Object.fromEntries([...ctxShared].map(([key, value]) => [String(key), luaValueToMsgpack(value)])),
    verified: ctxShared.has(VERIFIED_CONTEXT_KEY),
    consumer: luaValueToMsgpack(getConsumer(ngxCtx)),
    credential: luaValueToMsgpack(getCredential(ngxCtx)),
    serialized: readSerializedValues(state, details.logs),
    guardFired: decision.kind === "exit" && decision.source === "native-guard",
  };
  if (decision.kind === "exit") {
    const { status, headers, body } = decision.response;
    return { ...common, kind: "exit", source: decision.source, status, headers, body: Buffer.from(body, "latin1") };
  }
  return { ...common, kind: "proceed", upstreamRequest: decision.upstreamRequest, bufferedProxying: decision.bufferedProxying, ...(decision.response === undefined ? {} : { response: decision.response }) };
}
