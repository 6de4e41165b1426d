// The PDK functions Kong 3.9 runs for a plugin server (kong/pdk/*.lua and the overrides in
// kong/runloop/plugin_servers/plugin.lua), for one request in the access phase and, with buffered
// proxying, in the response phase.
import { hostname } from "node:os";
import { authenticate, getConsumer, getCredential, loadConsumer, setSerializeValue, type ConsumerEntity, type SerializeValue } from "./client-consumers";
import { readForwardedHeader, realClientIp } from "./forwarded-headers";
import {
  addHeader,
  clearHeader,
  getFirstHeaderValue,
  setHeader,
  type HeaderList,
} from "./header-list";
import { buildErrorResponse, buildExitResponse, checkHeader, type CheckedHeader, type KongResponse } from "./kong-response";
import { rawPathOf, rawQueryOf, virtualHostOf, type ReceivedRequest } from "./kong-request";
import { createLuaArray, createLuaTable, encodeCjson, LuaError, type LuaTable, type LuaValue } from "./lua-values";
import { decodeQueryArgs } from "./query-args";
import type { TrustedIpMatcher } from "./trusted-ips";

/** Kong's log levels, as the kong.log.* functions are named. */
export type LogLevel = "debug" | "info" | "notice" | "warn" | "err" | "crit" | "alert" | "emerg";

/** One line of Kong's error log: written by the plugin through kong.log.*, or by Kong itself. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  source: "plugin" | "kong";
}

/** The route and plugin a request runs under, as the PDK reports them. */
export interface PdkScope {
  routeId: string;
  routePaths: readonly string[];
  stripPath: boolean;
  serviceId: string | undefined;
  pluginId: string;
  /** The request path as kong.request.get_path returns it (the router matched on it). */
  normalizedPath: string;
  /** The route path the router matched; undefined when no route matched. */
  matchedPath: string | undefined;
}

/** Gateway-wide settings the PDK depends on. */
export interface PdkSettings {
  isTrusted: TrustedIpMatcher;
  /** nginx client_body_buffer_size: a larger body is buffered to a file. */
  clientBodyBufferSize: number;
  nodeId: string;
}

/** The phases the driver runs: access, and the response phase of buffered proxying. */
export type PdkPhase = "access" | "response";

/** The service's response as Kong buffered it (Kong.response in kong/init.lua). */
export interface ServiceResponse {
  readonly status: number;
  /** As the upstream sent them, hop-by-hop fields removed. */
  readonly headers: HeaderList;
  readonly body: Buffer;
}

/** The state of one request while its phases run. */
export interface PdkRequestState {
  readonly request: ReceivedRequest;
  /** The route, and the plugin whose phase runs (kong.plugin.get_id). */
  scope: PdkScope;
  phase: PdkPhase;
  /** In the response phase: what the service answered. */
  serviceResponse: ServiceResponse | undefined;
  readonly settings: PdkSettings;
  /** The request headers; kong.service.request.* change them, as ngx.req.set_header does. */
  headers: HeaderList;
  /** Set by kong.service.request.set_header("Host", ...): the Host sent upstream. */
  upstreamHost: string | undefined;
  /** Set by kong.service.request.set_raw_body: the body sent upstream instead of the client's. */
  upstreamBody: Buffer | undefined;
  readonly ctxShared: LuaTable;
  readonly ngxCtx: LuaTable;
  readonly logs: LogEntry[];
  /** Kong's consumers entity table, as load_consumer reads it. */
  readonly consumers: readonly ConsumerEntity[];
  /** kong.log.set_serialize_value calls, applied when log plugins serialize the request. */
  readonly serializeValues: SerializeValue[];
}

/** A request's state before its access phase: the client's headers, empty contexts, no logs, Kong's consumers. */
export function createPdkRequestState(request: ReceivedRequest, scope: PdkScope, settings: PdkSettings, consumers: readonly ConsumerEntity[] = []): PdkRequestState {
  return { request, scope, phase: "access", serviceResponse: undefined, settings, headers: request.headers, upstreamHost: undefined, upstreamBody: undefined, ctxShared: new Map(), ngxCtx: new Map(), logs: [], consumers, serializeValues: [] };
}

/** What running a PDK method produced: a value for the plugin, or a response that ends the request. */
export type PdkResult = { kind: "value"; value: LuaValue } | { kind: "exit"; response: KongResponse };

type PdkFunction = (state: PdkRequestState, args: readonly LuaValue[]) => LuaValue | Promise<LuaValue> | KongResponse;

const DEFAULT_MAX_HEADERS = 100;
const DEFAULT_MAX_QUERY_ARGS = 100;
const MAX_PORT = 65535;

function checkLimit(value: LuaValue, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw new LuaError(`${name} must be a number`);
  if (value < 1) throw new LuaError(`${name} must be >= 1`);
  if (value > 1000) throw new LuaError(`${name} must be <= 1000`);
  return value;
}

function checkString(value: LuaValue, message: string): string {
  if (typeof value !== "string") throw new LuaError(message);
  return value;
}

/** ngx.req.get_headers(max): lower-case names, a repeated header as a sequence. */
function collectHeaders(headers: HeaderList, maxHeaders: number): LuaTable {
  const table: LuaTable = new Map();
  for (const [name, value] of headers.slice(0, maxHeaders)) {
    const key = name.toLowerCase();
    const existing = table.get(key);
    if (existing === undefined) table.set(key, value);
    else if (existing instanceof Map) existing.set(existing.size + 1, value);
    else table.set(key, createLuaArray([existing, value]));
  }
  return table;
}

function forwardedHeader(state: PdkRequestState, name: string): string | undefined {
  return readForwardedHeader(state.headers, name, state.request.clientIp, state.settings.isTrusted);
}

/** Kong's host parsing for X-Forwarded-Host: drop userinfo, cut at the first ":". */
function splitForwardedHost(value: string): { host: string; port: string | undefined } {
  const withoutUserinfo = value.slice(value.indexOf("@") + 1);
  const colon = withoutUserinfo.indexOf(":");
  return colon === -1
    ? { host: withoutUserinfo, port: undefined }
    : { host: withoutUserinfo.slice(0, colon), port: withoutUserinfo.slice(colon + 1) };
}

function validPort(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= MAX_PORT ? port : undefined;
}

function forwardedClientIp(state: PdkRequestState): string {
  return realClientIp(state.headers, state.request.clientIp, state.settings.isTrusted);
}

/**
 * The X-Forwarded-Prefix Kong derives when no trusted client sent one: the route path it strips
 * ("/" strips nothing, so no prefix).
 */
export function defaultForwardedPrefix(scope: PdkScope): string | undefined {
  return scope.stripPath && scope.matchedPath !== "/" ? scope.matchedPath : undefined;
}

/** kong.request.get_raw_body(max): Kong 3.8+ reads a file-buffered body only when max allows it. */
async function readRawBody(state: PdkRequestState, maxAllowedFileSize: LuaValue): Promise<LuaValue> {
  const body = await state.request.readBody();
  if (body.length <= state.settings.clientBodyBufferSize) return body.toString("latin1");
  if (typeof maxAllowedFileSize !== "number" || maxAllowedFileSize < 0) return undefined;
  if (maxAllowedFileSize > 0 && body.length > maxAllowedFileSize) return undefined;
  return body.toString("latin1");
}

/** kong.service.request.set_header / add_header after the checks: a Host also becomes $upstream_host. */
function changeServiceHeader(state: PdkRequestState, { name, values }: CheckedHeader, change: typeof setHeader): LuaValue {
  if (name.toLowerCase() === "host") state.upstreamHost = values[0];
  state.headers = change(state.headers, name, values);
  return undefined;
}

function setServiceHeader(state: PdkRequestState, header: CheckedHeader): LuaValue {
  // Kong returns nil, "cannot set :authority pseudo-header on non-grpc requests"; only nil comes back.
  if (header.name.toLowerCase() === ":authority") return undefined;
  return changeServiceHeader(state, header, setHeader);
}

function logWith(level: LogLevel): PdkFunction {
  return (state, args) => {
    state.logs.push({ level, message: args.map((arg) => (arg instanceof Map ? encodeCjson(arg) : String(arg))).join(""), source: "plugin" });
    return undefined;
  };
}

function routeTable(scope: PdkScope): LuaTable {
  return createLuaTable([
    ["id", scope.routeId],
    ["paths", createLuaArray([...scope.routePaths])],
    ["strip_path", scope.stripPath],
    ["protocols", createLuaArray(["http", "https"])],
    ["service", scope.serviceId === undefined ? undefined : createLuaTable([["id", scope.serviceId]])],
  ]);
}

/** The kong.log.serialize() table, limited to what is known in the access phase. */
function serializeForLog(state: PdkRequestState): LuaTable {
  const { request } = state;
  const host = virtualHostOf(request);
  return createLuaTable([
    [
      "request",
      createLuaTable([
        ["method", request.method],
        ["uri", request.requestUri],
        ["url", `${request.scheme}://${host}:${request.serverPort}${request.requestUri}`],
        ["querystring", decodeQueryArgs(rawQueryOf(request.requestUri), DEFAULT_MAX_QUERY_ARGS)],
        ["headers", collectHeaders(state.headers, DEFAULT_MAX_HEADERS)],
        ["id", request.requestId],
      ]),
    ],
    ["route", routeTable(state.scope)],
    ["client_ip", forwardedClientIp(state)],
    ["started_at", request.startTime],
    ["source", "kong"],
  ]);
}

function nginxVariable(state: PdkRequestState, name: string): LuaValue {
  const { request } = state;
  if (name.startsWith("http_")) return getFirstHeaderValue(state.headers, name.slice("http_".length));
  const rawQuery = rawQueryOf(request.requestUri);
  const variables: Record<string, LuaValue> = {
    request_uri: request.requestUri,
    uri: state.scope.normalizedPath,
    args: rawQuery === "" ? undefined : rawQuery,
    is_args: request.requestUri.includes("?") ? "?" : "",
    scheme: request.scheme,
    host: virtualHostOf(request),
    server_port: String(request.serverPort),
    remote_addr: forwardedClientIp(state),
    realip_remote_addr: request.clientIp,
    remote_port: String(request.clientPort),
    request_method: request.method,
    server_protocol: "HTTP/1.1",
    request_id: request.requestId,
    kong_request_id: request.requestId,
    upstream_host: state.upstreamHost,
  };
  return variables[name];
}

function bufferedResponseOf(state: PdkRequestState): ServiceResponse {
  // Guarded by the phase check: only the response phase reaches here, and only with buffering.
  if (state.serviceResponse === undefined) throw new LuaError("service body is only available with buffered proxying (see: kong.service.request.enable_buffering function)");
  return state.serviceResponse;
}

const PDK_FUNCTIONS: Record<string, PdkFunction> = {
  "kong.request.get_scheme": ({ request }) => request.scheme,
  "kong.request.get_host": ({ request }) => virtualHostOf(request),
  "kong.request.get_port": ({ request }) => request.serverPort,
  "kong.request.get_forwarded_scheme": (state) =>
    forwardedHeader(state, "x-forwarded-proto")?.toLowerCase() ?? state.request.scheme,
  "kong.request.get_forwarded_host": (state) => {
    const forwarded = forwardedHeader(state, "x-forwarded-host");
    return forwarded === undefined ? virtualHostOf(state.request) : splitForwardedHost(forwarded).host.toLowerCase();
  },
  "kong.request.get_forwarded_port": (state) => {
    const forwardedHost = forwardedHeader(state, "x-forwarded-host");
    return (
      validPort(forwardedHeader(state, "x-forwarded-port")) ??
      validPort(forwardedHost === undefined ? undefined : splitForwardedHost(forwardedHost).port) ??
      state.request.serverPort
    );
  },
  "kong.request.get_forwarded_path": (state) => forwardedHeader(state, "x-forwarded-path") ?? state.scope.normalizedPath,
  "kong.request.get_forwarded_prefix": (state) => forwardedHeader(state, "x-forwarded-prefix") ?? defaultForwardedPrefix(state.scope),
  "kong.request.get_http_version": () => 1.1,
  "kong.request.get_method": ({ request }) => request.method,
  "kong.request.get_path": ({ scope }) => scope.normalizedPath,
  "kong.request.get_raw_path": ({ request }) => rawPathOf(request.requestUri),
  "kong.request.get_path_with_query": ({ request }) => request.requestUri,
  "kong.request.get_raw_query": ({ request }) => rawQueryOf(request.requestUri),
  "kong.request.get_query_arg": ({ request }, [name]) => {
    const value = decodeQueryArgs(rawQueryOf(request.requestUri), DEFAULT_MAX_QUERY_ARGS).get(
      checkString(name, "query argument name must be a string"),
    );
    return value instanceof Map ? value.get(1) : value;
  },
  "kong.request.get_query": ({ request }, [maxArgs]) =>
    decodeQueryArgs(rawQueryOf(request.requestUri), checkLimit(maxArgs, "max_args", DEFAULT_MAX_QUERY_ARGS)),
  "kong.request.get_header": (state, [name]) =>
    getFirstHeaderValue(state.headers, checkString(name, "header name must be a string")),
  "kong.request.get_headers": (state, [maxHeaders]) =>
    collectHeaders(state.headers, checkLimit(maxHeaders, "max_headers", DEFAULT_MAX_HEADERS)),
  "kong.request.get_raw_body": (state, [maxAllowedFileSize]) => readRawBody(state, maxAllowedFileSize),
  "kong.request.get_start_time": ({ request }) => request.startTime,
  "kong.request.get_uri_captures": () => createLuaTable([["unnamed", new Map()], ["named", new Map()]]),

  "kong.client.get_ip": ({ request }) => request.clientIp,
  "kong.client.get_forwarded_ip": (state) => forwardedClientIp(state),
  "kong.client.get_port": ({ request }) => request.clientPort,
  "kong.client.get_forwarded_port": ({ request }) => request.clientPort,
  "kong.client.get_protocol": ({ request }) => request.scheme,
  "kong.client.get_credential": ({ ngxCtx }) => getCredential(ngxCtx),
  "kong.client.get_consumer": ({ ngxCtx }) => getConsumer(ngxCtx),
  "kong.client.load_consumer": ({ consumers }, [consumerId, searchByUsername]) => loadConsumer(consumers, consumerId, searchByUsername),
  "kong.client.authenticate": ({ ngxCtx }, [consumer, credential]) => authenticate(ngxCtx, consumer, credential),

  "kong.response.exit": (state, [status, body, headers]) =>
    buildExitResponse(status, body, headers, (message) => state.logs.push({ level: "warn", message, source: "kong" })),
  "kong.response.error": (state, [status, message, headers]) =>
    buildErrorResponse(
      status,
      message,
      headers,
      { headers: state.headers, requestId: state.request.requestId },
      (warning) => state.logs.push({ level: "warn", message: warning, source: "kong" }),
    ),

  "kong.service.response.get_status": (state) => bufferedResponseOf(state).status,
  "kong.service.response.get_header": (state, [name]) => getFirstHeaderValue(bufferedResponseOf(state).headers, checkString(name, "name must be a string")),
  // Kong answers with a lookup table over the buffered headers that pairs() cannot walk: through
  // the plugin-server bridge (fix_mmap) it arrives as an empty map.
  "kong.service.response.get_headers": (state) => {
    bufferedResponseOf(state);
    return new Map();
  },
  "kong.service.response.get_raw_body": (state) => bufferedResponseOf(state).body.toString("latin1"),

  "kong.service.request.set_header": (state, [name, value]) => setServiceHeader(state, checkHeader(name, value)),
  "kong.service.request.add_header": (state, [name, value]) => changeServiceHeader(state, checkHeader(name, value), addHeader),
  "kong.service.request.clear_header": (state, [name]) => {
    state.headers = clearHeader(state.headers, checkString(name, "header must be a string"));
    return undefined;
  },
  // ngx.req.set_body_data: nginx sends the new body under a Content-Length it counts.
  "kong.service.request.set_raw_body": (state, [body]) => {
    const bytes = Buffer.from(checkString(body, "body must be a string"), "latin1");
    state.upstreamBody = bytes;
    state.headers = setHeader(clearHeader(state.headers, "transfer-encoding"), "Content-Length", [String(bytes.length)]);
    return undefined;
  },
  "kong.service.request.set_headers": (state, [headers]) => {
    if (!(headers instanceof Map)) throw new LuaError("headers must be a table");
    // Kong checks every header before it sets any.
    const checked = [...headers].map(([name, value]) => checkHeader(name, value));
    for (const header of checked) setServiceHeader(state, header);
    return undefined;
  },

  "kong.ctx.shared.get": ({ ctxShared }, [key]) => readFromTable(ctxShared, key),
  "kong.ctx.shared.set": ({ ctxShared }, [key, value]) => storeInTable(ctxShared, key, value),
  "kong.nginx.get_ctx": ({ ngxCtx }, [key]) => readFromTable(ngxCtx, key),
  "kong.nginx.set_ctx": ({ ngxCtx }, [key, value]) => storeInTable(ngxCtx, key, value),
  "kong.nginx.get_var": (state, [name]) => nginxVariable(state, checkString(name, "bad variable name")),
  "kong.nginx.get_subsystem": () => "http",
  "kong.nginx.req_start_time": ({ request }) => request.startTime / 1000,

  "kong.log.debug": logWith("debug"),
  "kong.log.info": logWith("info"),
  "kong.log.notice": logWith("notice"),
  "kong.log.warn": logWith("warn"),
  "kong.log.err": logWith("err"),
  "kong.log.crit": logWith("crit"),
  "kong.log.alert": logWith("alert"),
  "kong.log.emerg": logWith("emerg"),
  "kong.log.serialize": (state) => encodeCjson(serializeForLog(state)),
  "kong.log.set_serialize_value": (state, [key, value, options]) => setSerializeValue(state.serializeValues, key, value, options),

  "kong.router.get_route": ({ scope }) => routeTable(scope),
  "kong.router.get_service": ({ scope }) =>
    scope.serviceId === undefined ? undefined : createLuaTable([["id", scope.serviceId]]),
  "kong.plugin.get_id": ({ scope }) => scope.pluginId,
  "kong.node.get_id": ({ settings }) => settings.nodeId,
  "kong.node.get_hostname": () => hostname(),
  "kong.ip.is_trusted": ({ settings }, [address]) => settings.isTrusted(checkString(address, "address must be a string")),
};

function readFromTable(table: LuaTable, key: LuaValue): LuaValue {
  return typeof key === "string" || typeof key === "number" ? table.get(key) : undefined;
}

function storeInTable(table: LuaTable, key: LuaValue, value: LuaValue): LuaValue {
  if (key === undefined) throw new LuaError("table index is nil");
  // Lua would accept a boolean or table key; no plugin has a reason to, so the driver refuses it.
  if (typeof key !== "string" && typeof key !== "number") throw new LuaError("the driver keeps only string and number keys");
  if (value === undefined) table.delete(key);
  else table.set(key, value);
  return undefined;
}

/**
 * Real Kong 3.9 PDK functions this driver does not emulate: calling one fails the driver call loudly
 * instead of answering something Kong would not.
 */
const UNEMULATED_KONG_FUNCTIONS = new Set([
  "kong.request.get_body",
  "kong.response.get_status", "kong.response.get_header", "kong.response.get_headers", "kong.response.get_source",
  "kong.response.set_status", "kong.response.set_header", "kong.response.add_header", "kong.response.clear_header",
  "kong.response.set_headers",
  "kong.service.set_upstream", "kong.service.set_target", "kong.service.set_retries", "kong.service.set_timeouts",
  "kong.service.set_tls_verify", "kong.service.set_tls_verify_depth", "kong.service.set_tls_cert_key",
  "kong.service.request.enable_buffering", "kong.service.request.set_scheme", "kong.service.request.set_path",
  "kong.service.request.set_raw_query", "kong.service.request.set_method", "kong.service.request.set_query",
  "kong.service.request.clear_query_arg", "kong.service.request.set_body",
  "kong.service.request.disable_tls",
  "kong.service.response.get_body",
  "kong.nginx.get_statistics", "kong.nginx.get_tls1_version_str",
  "kong.node.get_memory_stats", "kong.cluster.get_id", "kong.log.inspect",
  "kong.vault.get", "kong.vault.is_reference", "kong.vault.parse_reference", "kong.telemetry.log",
]);

/**
 * Kong's phase names in the order its phase checks list them (kong/pdk/private/phases.lua), and
 * the functions whose checks allow only some of the driver's phases: each one raises "function
 * cannot be called in <phase> phase" elsewhere.
 */
const PHASE_CHECKS: Record<string, readonly string[]> = {
  "kong.service.request.set_header": ["rewrite", "access", "balancer"],
  "kong.service.request.add_header": ["rewrite", "access"],
  "kong.service.request.clear_header": ["rewrite", "access"],
  "kong.service.request.set_headers": ["rewrite", "access"],
  "kong.service.request.set_raw_body": ["rewrite", "access", "balancer"],
  "kong.service.response.get_status": ["response", "header_filter", "body_filter", "log"],
  "kong.service.response.get_header": ["response", "header_filter", "body_filter", "log"],
  "kong.service.response.get_headers": ["response", "header_filter", "body_filter", "log"],
  "kong.service.response.get_raw_body": ["response", "header_filter", "body_filter", "log"],
  // The response body can be replaced only chunk by chunk in body_filter, which plugin servers
  // do not get: a response-phase plugin answers with kong.response.exit instead.
  "kong.response.get_raw_body": ["body_filter"],
  "kong.response.set_raw_body": ["body_filter"],
};

function checkPhase(state: PdkRequestState, method: string): void {
  const allowed = PHASE_CHECKS[method];
  if (allowed !== undefined && !allowed.includes(state.phase)) {
    throw new LuaError(`function cannot be called in ${state.phase} phase (only in: ${allowed.join(", ")})`);
  }
}

/** Thrown when a plugin calls a real Kong PDK function the driver does not emulate. */
export class UnemulatedPdkMethodError extends Error {
  override readonly name = "UnemulatedPdkMethodError";
  constructor(readonly method: string) {
    super(`${method} is a Kong PDK function the driver does not emulate`);
  }
}

/** Whether Kong exposes `method` to plugin servers (else Kong logs "could not find pdk method"). */
export function isKnownPdkMethod(method: string): boolean {
  return method in PDK_FUNCTIONS || method in PHASE_CHECKS || UNEMULATED_KONG_FUNCTIONS.has(method);
}

/**
 * Runs one PDK method as Kong would for this request. Throws LuaError where Kong's Lua raises and
 * UnemulatedPdkMethodError for a real Kong function the driver lacks; call isKnownPdkMethod first.
 */
export async function runPdkMethod(state: PdkRequestState, method: string, args: readonly LuaValue[]): Promise<PdkResult> {
  checkPhase(state, method);
  const pdkFunction = PDK_FUNCTIONS[method];
  if (pdkFunction === undefined) throw new UnemulatedPdkMethodError(method);
  const result = await pdkFunction(state, args);
  if (typeof result === "object" && !(result instanceof Map)) return { kind: "exit", response: result };
  return { kind: "value", value: result };
}
