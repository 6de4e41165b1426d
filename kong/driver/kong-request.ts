import { randomBytes } from "node:crypto";
import { dropInvalidRequestHeaders, getFirstHeaderValue, type HeaderList } from "./header-list";

/**
 * A client request as Kong receives it. Strings are byte strings as on the wire (Node's http module
 * gives header values and `req.url` the same way); ASCII needs no care.
 */
export interface KongRequest {
  method: string;
  /** The request target: path and optional "?query", not normalized. */
  path: string;
  /** Header fields in order, duplicates allowed. Names with "_" are dropped, as nginx does by default. */
  headers?: HeaderList;
  body?: Buffer | string;
  /** The address the client connected from (default 127.0.0.1). */
  clientIp?: string;
  clientPort?: number;
  /** The scheme Kong was reached with (default "http"). */
  scheme?: "http" | "https";
  /** Host used when the request has no Host header (nginx server_name; default "kong"). */
  host?: string;
  /** The port Kong listens on (default 8000). */
  port?: number;
}

/** A request inside the driver: defaults applied, body readable on demand like nginx's read_body. */
export interface ReceivedRequest {
  method: string;
  requestUri: string;
  headers: HeaderList;
  scheme: "http" | "https";
  serverHost: string;
  serverPort: number;
  clientIp: string;
  clientPort: number;
  /** Reads the whole body (once; later calls return the same bytes). */
  readBody(): Promise<Buffer>;
  /** When nginx started to handle the request, in ms since the epoch. */
  startTime: number;
  /** Kong's request id ($kong_request_id): 32 hex digits. */
  requestId: string;
}

/** A new request id like Kong's ($request_id: 16 random bytes in hex). */
export function createRequestId(): string {
  return randomBytes(16).toString("hex");
}

/** Accepts a request given to `KongDriver.handle` and applies Kong's defaults. */
export function receiveRequest(request: KongRequest): ReceivedRequest {
  const body = typeof request.body === "string" ? Buffer.from(request.body, "utf8") : (request.body ?? Buffer.alloc(0));
  return {
    method: request.method.toUpperCase(),
    requestUri: request.path,
    headers: dropInvalidRequestHeaders(request.headers ?? []),
    scheme: request.scheme ?? "http",
    serverHost: request.host ?? "kong",
    serverPort: request.port ?? 8000,
    clientIp: request.clientIp ?? "127.0.0.1",
    clientPort: request.clientPort ?? 40000,
    readBody: () => Promise.resolve(body),
    startTime: Date.now(),
    requestId: createRequestId(),
  };
}

/** The raw path of a request target (before "?"), like `kong.request.get_raw_path`. */
export function rawPathOf(requestUri: string): string {
  const queryStart = requestUri.indexOf("?", 1);
  return queryStart === -1 ? requestUri : requestUri.slice(0, queryStart);
}

/** The raw query of a request target (after "?", "" when none), like `kong.request.get_raw_query`. */
export function rawQueryOf(requestUri: string): string {
  const queryStart = requestUri.indexOf("?", 1);
  return queryStart === -1 ? "" : requestUri.slice(queryStart + 1);
}

/** Strips an optional userinfo and port from a host value and lower-cases it. */
function hostWithoutPort(host: string): string {
  const withoutUserinfo = host.slice(host.indexOf("@") + 1);
  if (withoutUserinfo.startsWith("[")) return withoutUserinfo.slice(0, withoutUserinfo.indexOf("]") + 1).toLowerCase();
  const portStart = withoutUserinfo.indexOf(":");
  return (portStart === -1 ? withoutUserinfo : withoutUserinfo.slice(0, portStart)).toLowerCase();
}

/** nginx's $host: the Host header without port, lower-cased, else the server name. */
export function virtualHostOf(request: ReceivedRequest): string {
  const hostHeader = getFirstHeaderValue(request.headers, "host");
  return hostHeader === undefined || hostHeader === "" ? request.serverHost : hostWithoutPort(hostHeader);
}
