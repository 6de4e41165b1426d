// The request Kong sends upstream after the access phase (kong/runloop/handler.lua and the
// proxy_set_header lines of Kong's nginx template), with preserve_host = false.
import { readForwardedHeader, realClientIp } from "./forwarded-headers";
import { clearHeader, getFirstHeaderValue, getHeaderValues, HOP_BY_HOP_HEADERS, type HeaderList } from "./header-list";
import { defaultForwardedPrefix, type PdkRequestState } from "./kong-pdk-emulation";
import { rawPathOf, rawQueryOf, virtualHostOf } from "./kong-request";
import type { UpstreamRequest } from "./outcome";
import { escapePathForUpstream } from "./path-normalization";
import type { RouteMatch } from "./route-table";

/** What Kong 3.9 puts in Via. */
const KONG_VIA = "1.1 kong/3.9.1";

/** Headers Kong sets itself with proxy_set_header: the client's (or a plugin's) values never reach upstream. */
const KONG_SET_HEADERS = [
  "host", "via", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
  "x-forwarded-path", "x-forwarded-prefix", "x-real-ip", "x-kong-request-id",
];

/** Kong's path_handling "v0": the service path, then what remains of the request path. */
function joinUpstreamPath(basePath: string, postfix: string): string {
  if (postfix === "") return basePath;
  if (basePath.endsWith("/") && postfix.startsWith("/")) return basePath + postfix.slice(1);
  return basePath + postfix;
}

/** A URL's host as a Host header: the port only when it is not the scheme's default. */
function hostHeaderOf(url: URL): string {
  return url.port === "" ? url.hostname : `${url.hostname}:${url.port}`;
}

function withoutHopByHopHeaders(headers: HeaderList): HeaderList {
  const connectionTokens = getHeaderValues(headers, "connection").flatMap((value) => value.split(",").map((token) => token.trim()));
  return [...HOP_BY_HOP_HEADERS, ...connectionTokens, ...KONG_SET_HEADERS].reduce(clearHeader, headers);
}

/**
 * Builds the upstream request: the route's prefix stripped (when strip_path), the headers as the
 * plugin left them, and Kong's Host, Via, X-Forwarded-*, X-Real-IP and X-Kong-Request-Id. The
 * forwarded values come from the headers as the client sent them (Kong reads them before plugins
 * run), trusted only from trusted_ips.
 */
export function buildUpstreamRequest(match: RouteMatch, state: PdkRequestState): UpstreamRequest {
  const { request, scope } = state;
  const original = request.headers;
  const { isTrusted } = state.settings;
  const forwarded = (name: string): string | undefined => readForwardedHeader(original, name, request.clientIp, isTrusted);
  const realIp = realClientIp(original, request.clientIp, isTrusted);
  const host = virtualHostOf(request);

  const postfix = match.route.stripPath ? scope.normalizedPath.slice(match.matchedPath.length) : scope.normalizedPath;
  const upstream = match.route.definition.upstream === undefined ? undefined : new URL(match.route.definition.upstream);
  const rawQuery = rawQueryOf(request.requestUri);
  const path =
    escapePathForUpstream(joinUpstreamPath(upstream?.pathname ?? "/", postfix) || "/") +
    (request.requestUri.includes("?") ? `?${rawQuery}` : "");

  const clientForwardedFor = getFirstHeaderValue(original, "x-forwarded-for");
  const clientVia = getFirstHeaderValue(original, "via");
  const prefix = forwarded("x-forwarded-prefix") ?? defaultForwardedPrefix(scope);
  const hostHeader = state.upstreamHost ?? (upstream === undefined ? getFirstHeaderValue(original, "host") : hostHeaderOf(upstream));
  const kongHeaders: Array<[string, string | undefined]> = [
    ["Host", hostHeader],
    ["Via", clientVia === undefined ? KONG_VIA : `${clientVia}, ${KONG_VIA}`],
    ["X-Forwarded-For", clientForwardedFor === undefined ? realIp : `${clientForwardedFor}, ${request.clientIp}`],
    ["X-Forwarded-Proto", forwarded("x-forwarded-proto") ?? request.scheme],
    ["X-Forwarded-Host", forwarded("x-forwarded-host") ?? host],
    ["X-Forwarded-Port", forwarded("x-forwarded-port") ?? String(request.serverPort)],
    ["X-Forwarded-Path", forwarded("x-forwarded-path") ?? rawPathOf(request.requestUri)],
    ["X-Forwarded-Prefix", prefix],
    ["X-Real-IP", realIp],
    ["X-Kong-Request-Id", request.requestId],
  ];
  const headers: HeaderList = [
    ...withoutHopByHopHeaders(state.headers),
    ...kongHeaders.filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ""),
  ];
  return {
    method: request.method,
    url: upstream === undefined ? undefined : `${upstream.protocol}//${upstream.host}${path}`,
    path,
    headers,
    ...(state.upstreamBody === undefined ? {} : { body: state.upstreamBody }),
  };
}
