// Responses Kong produces itself: kong.response.exit / kong.response.error (kong/pdk/response.lua),
// its error templates (kong/tools/http.lua) and the 500 of a plugin that raised.
import { getHeaderValues, type HeaderList } from "./header-list";
import { createLuaTable, encodeCjson, LuaError, type LuaTable, type LuaValue } from "./lua-values";

/** A response Kong sends instead of proxying. Header names/values and body are byte strings. */
export interface KongResponse {
  status: number;
  headers: HeaderList;
  body: string;
}

/** Where a driver-side warning goes (Kong's error log). */
export type WarningSink = (message: string) => void;

const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

const MIME_TYPES: Record<string, string> = {
  "application/grpc": "",
  "text/html": "text/html; charset=utf-8",
  "application/json": JSON_CONTENT_TYPE,
  "text/plain": "text/plain; charset=utf-8",
  "application/xml": "application/xml; charset=utf-8",
  application: JSON_CONTENT_TYPE,
  text: "text/plain; charset=utf-8",
};

const ERROR_TEMPLATES: Record<string, string> = {
  "application/json": '{\n  "message":"%s",\n  "request_id":"%s"\n}',
  "text/html":
    '<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <title>Error</title>\n  </head>\n' +
    "  <body>\n    <h1>Error</h1>\n    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n",
  "text/plain": "%s\nrequest_id: %s\n",
  "application/xml":
    '<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>%s</message>\n  <requestid>%s</requestid>\n</error>\n',
  "application/grpc": "",
};

const HTTP_ERROR_MESSAGES: Record<number, string> = {
  400: "Bad request", 401: "Unauthorized", 402: "Payment required", 403: "Forbidden", 404: "Not found",
  405: "Method not allowed", 406: "Not acceptable", 407: "Proxy authentication required", 408: "Request timeout",
  409: "Conflict", 410: "Gone", 411: "Length required", 412: "Precondition failed", 413: "Payload too large",
  414: "URI too long", 415: "Unsupported media type", 416: "Range not satisfiable", 417: "Expectation failed",
  418: "I'm a teapot", 421: "Misdirected request", 422: "Unprocessable entity", 423: "Locked",
  424: "Failed dependency", 425: "Too early", 426: "Upgrade required", 428: "Precondition required",
  429: "Too many requests", 431: "Request header fields too large", 451: "Unavailable for legal reasons",
  494: "Request header or cookie too large", 500: "An unexpected error occurred", 501: "Not implemented",
  502: "An invalid response was received from the upstream server",
  503: "The upstream server is currently unavailable", 504: "The upstream server is timing out",
  505: "HTTP version not supported", 506: "Variant also negotiates", 507: "Insufficient storage",
  508: "Loop detected", 510: "Not extended", 511: "Network authentication required",
};

/** The MIME type Kong maps a media type to (kong.tools.http get_mime_type, defaulting to JSON). */
function mimeTypeOf(mediaType: string): string {
  const essence = (mediaType.trim().split(";")[0] ?? "").trim();
  const [type = "", subtype] = essence.split("/");
  if (subtype === undefined) return JSON_CONTENT_TYPE;
  if (subtype === "*") return type === "*" ? JSON_CONTENT_TYPE : (MIME_TYPES[type] ?? JSON_CONTENT_TYPE);
  return MIME_TYPES[essence] ?? JSON_CONTENT_TYPE;
}

const ACCEPT_ENTRY =
  /^((?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*)\/(?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*))(?:\s*;\s*q=(1(?:\.0{0,3})?|0(?:\.\d{0,3})?)|\s*;\s*[a-z0-9][a-z0-9\-!#$&^_+.]+(?:=[^;]*)?)*/i;

/** The error response content type for an Accept header (kong.tools.http get_response_type). */
export function responseTypeForAccept(accept: string | undefined): string {
  let contentType = JSON_CONTENT_TYPE;
  let bestQuality = 0;
  for (const entry of (accept ?? "").split(",")) {
    const match = ACCEPT_ENTRY.exec(entry.trim());
    if (match === null) continue;
    const quality = match[2] === undefined ? 1 : Number(match[2]);
    if (quality > bestQuality) {
      bestQuality = quality;
      contentType = mimeTypeOf(match[1] ?? "");
    }
  }
  return contentType;
}

function errorTemplateFor(contentType: string): string | undefined {
  const essence = Object.keys(ERROR_TEMPLATES).find((mime) => contentType === mime || contentType === MIME_TYPES[mime]);
  return essence === undefined ? undefined : ERROR_TEMPLATES[essence];
}

/** Fills an error template like Lua's string.format("%s", message, request_id). */
function fillErrorTemplate(template: string, message: string, requestId: string): string {
  const values = [message, requestId];
  return template.replace(/%s/g, () => values.shift() ?? "");
}

function luaTypeName(value: LuaValue): string {
  if (value === undefined) return "nil";
  return value instanceof Map ? "table" : typeof value;
}

/** The header values a Lua header value stands for (checks.validate_header, normalize_multi_header). */
function luaHeaderValues(name: string, value: LuaValue): string[] {
  if (typeof value === "string") return [value === "" ? " " : value];
  if (typeof value === "number" || typeof value === "boolean") return [String(value)];
  if (value instanceof Map) {
    const values: string[] = [];
    for (let index = 1; value.has(index); index += 1) {
      const element = value.get(index);
      if (typeof element !== "string") {
        throw new LuaError(`invalid header value in array "${name}": got ${luaTypeName(element)}, expected string`);
      }
      values.push(element === "" ? " " : element);
    }
    return values;
  }
  throw new LuaError(
    `invalid header value for "${name}": got ${luaTypeName(value)}, expected string, number, boolean or array of strings`,
  );
}

/** A header a plugin passed to Kong, checked: its name and the values it stands for. */
export interface CheckedHeader {
  name: string;
  values: string[];
}

/** Checks a header name and value as Kong's validate_header does (a Lua error otherwise). */
export function checkHeader(name: LuaValue, value: LuaValue): CheckedHeader {
  if (typeof name !== "string") throw new LuaError(`invalid header name "${String(name)}": got ${typeof name}, expected string`);
  return { name, values: luaHeaderValues(name, value) };
}

function validateHeaderTable(headers: LuaValue): LuaTable | undefined {
  if (headers === undefined) return undefined;
  if (!(headers instanceof Map)) throw new LuaError("headers must be a nil or table");
  for (const [name, value] of headers) checkHeader(name, value);
  return headers;
}

/** `send()` of kong/pdk/response.lua: applies headers the way ngx.header does, sets the length. */
function sendResponse(status: number, body: LuaValue, headers: LuaTable | undefined, warn: WarningSink): KongResponse {
  // ngx.header[name] = value replaces earlier values of the same header; "_" in a name becomes "-".
  const fields = new Map<string, { name: string; values: string[] }>();
  for (const [name, value] of headers ?? []) {
    const headerName = String(name);
    const lowerName = headerName.toLowerCase().replaceAll("_", "-");
    if (lowerName === "transfer-encoding") {
      warn("manually setting Transfer-Encoding. Ignored.");
      continue;
    }
    fields.set(lowerName, { name: headerName.replaceAll("_", "-"), values: luaHeaderValues(headerName, value) });
  }
  let content = "";
  if (body instanceof Map) {
    content = encodeCjson(body);
    if (!fields.has("content-type")) fields.set("content-type", { name: "Content-Type", values: [JSON_CONTENT_TYPE] });
  } else if (typeof body === "string") {
    content = body;
  }
  if (!fields.has("content-length")) {
    fields.set("content-length", { name: "Content-Length", values: [String(Buffer.byteLength(content, "latin1"))] });
  }
  const headerList: HeaderList = [];
  for (const { name, values } of fields.values()) for (const value of values) headerList.push([name, value]);
  return { status, headers: headerList, body: content };
}

function checkStatus(status: LuaValue, minimum: number): number {
  if (typeof status !== "number") throw new LuaError("code must be a number");
  if (status < minimum || status > 599) throw new LuaError(`code must be a number between ${minimum} and 599`);
  return status;
}

/** `kong.response.exit(status, body, headers)`: a string body as is, a table body as cjson JSON. */
export function buildExitResponse(status: LuaValue, body: LuaValue, headers: LuaValue, warn: WarningSink): KongResponse {
  const code = checkStatus(status, 100);
  if (body !== undefined && typeof body !== "string" && !(body instanceof Map)) {
    throw new LuaError("body must be a nil, string or table");
  }
  return sendResponse(code, body, validateHeaderTable(headers), warn);
}

/** What `kong.response.error` needs to know about the request. */
export interface ErrorResponseRequest {
  headers: HeaderList;
  requestId: string;
}

/**
 * `kong.response.error(status, message, headers)`: the body is Kong's error template for the
 * Content-Type given in `headers["Content-Type"]` or negotiated from Accept (JSON by default); the
 * message is inserted verbatim, as Kong does.
 */
export function buildErrorResponse(
  status: LuaValue,
  message: LuaValue,
  headers: LuaValue,
  request: ErrorResponseRequest,
  warn: WarningSink,
): KongResponse {
  const code = checkStatus(status, 400);
  if (message !== undefined && typeof message !== "string" && !(message instanceof Map)) {
    throw new LuaError("message must be a nil, a string or a table");
  }
  const headerTable = createLuaTable(validateHeaderTable(headers) ?? []);
  const givenContentType = headerTable.get("Content-Type");
  const contentType =
    givenContentType instanceof Map
      ? givenContentType.get(1)
      : (givenContentType ?? responseTypeForAccept(getHeaderValues(request.headers, "accept").join(",") || undefined));
  if (typeof contentType !== "string") throw new LuaError("invalid Content-Type header value");
  headerTable.set("Content-Type", contentType);
  let body: string | undefined;
  if (contentType !== "application/grpc") {
    const template = errorTemplateFor(contentType);
    if (template === undefined) throw new LuaError("bad argument #1 to 'format' (string expected, got nil)");
    const text = message instanceof Map ? encodeCjson(message) : (message ?? HTTP_ERROR_MESSAGES[code] ?? "");
    body = fillErrorTemplate(template, text, request.requestId);
  }
  return sendResponse(code, body, headerTable, warn);
}

/** The response Kong sends when a plugin's phase raised a Lua error. */
export function buildUnexpectedErrorResponse(): KongResponse {
  return sendResponse(500, createLuaTable([["message", "An unexpected error occurred"]]), undefined, () => undefined);
}
