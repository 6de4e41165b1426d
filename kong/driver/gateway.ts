// A small local Kong over HTTP: runs the access phase through the plugin servers, then answers
// Kong's response or proxies to the route's upstream, streaming bodies both ways (MCP uses SSE),
// or, with buffered proxying, capturing the whole upstream response for the response phase.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import { headerListFromRawHeaders, headerListToRawHeaders, HOP_BY_HOP_HEADERS, type HeaderList } from "./header-list";
import type { ServiceResponse } from "./kong-pdk-emulation";
import { receiveRequest, type ReceivedRequest } from "./kong-request";
import { buildErrorResponse } from "./kong-response";
import type { Outcome, UpstreamRequest } from "./outcome";

/** Runs Kong's router and phases for a request; `upstream` captures the upstream's response when Kong buffers it. */
export type RequestProcessor = (request: ReceivedRequest, upstream: (request: UpstreamRequest) => Promise<ServiceResponse>) => Promise<Outcome>;

export interface GatewayOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Idle time allowed between two reads or writes upstream (Kong's service timeouts, 60 s). */
  upstreamTimeoutMs?: number;
  /** Largest request body read for the PDK (default 8 MiB); a larger one gets 413. */
  maxBodyBytes?: number;
}

/** A listening gateway. */
export interface KongGateway {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The client sent more than `maxBodyBytes`. */
class RequestBodyTooLargeError extends Error {
  override readonly name = "RequestBodyTooLargeError";
}

/** The request body, read only if the PDK asks for it (nginx reads the body on demand). */
function createLazyBody(request: IncomingMessage, maxBodyBytes: number): { read(): Promise<Buffer>; wasRead(): boolean } {
  let reading: Promise<Buffer> | undefined;
  const read = (): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) {
          reject(new RequestBodyTooLargeError(`request body larger than ${maxBodyBytes} bytes`));
          request.destroy();
          return;
        }
        chunks.push(chunk);
      });
      request.once("end", () => resolve(Buffer.concat(chunks)));
      request.once("error", reject);
    });
  return {
    read: () => (reading ??= read()),
    wasRead: () => reading !== undefined,
  };
}

function clientAddress(address: string | undefined): string {
  const value = address ?? "127.0.0.1";
  return value.startsWith("::ffff:") ? value.slice("::ffff:".length) : value;
}

function writeKongResponse(response: ServerResponse, method: string | undefined, status: number, headers: HeaderList, body: Buffer): void {
  response.writeHead(status, headerListToRawHeaders(headers));
  response.end(method === "HEAD" ? undefined : body);
}

function writeKongError(response: ServerResponse, received: ReceivedRequest, status: number, message?: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const answer = buildErrorResponse(status, message, undefined, received, () => undefined);
  writeKongResponse(response, received.method, answer.status, answer.headers, Buffer.from(answer.body, "latin1"));
}

/** The upstream's response headers a proxy passes on: hop-by-hop fields removed. */
function endToEndHeaders(upstreamResponse: IncomingMessage): HeaderList {
  return headerListFromRawHeaders(upstreamResponse.rawHeaders).filter(([name]) => !HOP_BY_HOP_HEADERS.includes(name.toLowerCase()));
}

/** The request to the upstream, with Kong's idle timeout. */
function requestUpstream(upstream: UpstreamRequest & { url: string }, timeoutMs: number) {
  const outgoing = httpRequest(upstream.url, {
    method: upstream.method,
    headers: headerListToRawHeaders(upstream.headers),
    setHost: false,
    timeout: timeoutMs,
  });
  outgoing.on("timeout", () => outgoing.destroy(Object.assign(new Error("upstream timed out"), { code: "ETIMEDOUT" })));
  return outgoing;
}

/** The status of Kong's answer when the upstream failed: 504 after a timeout, else 502. */
function upstreamFailureStatus(error: NodeJS.ErrnoException): number {
  return error.code === "ETIMEDOUT" ? 504 : 502;
}

/** An upstream failure while capturing its response, with the status Kong answers it with. */
class UpstreamFailure extends Error {
  override readonly name = "UpstreamFailure";
  constructor(readonly status: number) {
    super(`the upstream failed (Kong answers ${status})`);
  }
}

/**
 * Kong's buffered proxying (ngx.location.capture of /kong_buffered_http): the request with the
 * whole body read first, the whole response captured before anything is sent.
 */
function captureUpstreamResponse(upstream: UpstreamRequest & { url: string }, body: Buffer, timeoutMs: number): Promise<ServiceResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = requestUpstream(upstream, timeoutMs);
    outgoing.on("error", (error: NodeJS.ErrnoException) => reject(new UpstreamFailure(upstreamFailureStatus(error))));
    outgoing.on("response", (upstreamResponse) => {
      const chunks: Buffer[] = [];
      upstreamResponse.on("data", (chunk: Buffer) => chunks.push(chunk));
      upstreamResponse.on("error", () => reject(new UpstreamFailure(502)));
      upstreamResponse.on("end", () => resolve({ status: upstreamResponse.statusCode ?? 502, headers: endToEndHeaders(upstreamResponse), body: Buffer.concat(chunks) }));
    });
    outgoing.end(body);
  });
}

function proxyToUpstream(
  upstream: UpstreamRequest & { url: string },
  request: IncomingMessage,
  received: ReceivedRequest,
  response: ServerResponse,
  body: { read(): Promise<Buffer>; wasRead(): boolean },
  timeoutMs: number,
): void {
  const outgoing = requestUpstream(upstream, timeoutMs);
  outgoing.on("error", (error: NodeJS.ErrnoException) => writeKongError(response, received, upstreamFailureStatus(error)));
  outgoing.on("response", (upstreamResponse) => {
    response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.statusMessage, headerListToRawHeaders(endToEndHeaders(upstreamResponse)));
    // Send the head now: an SSE stream may not produce its first event for a while.
    response.flushHeaders();
    upstreamResponse.pipe(response);
    upstreamResponse.on("error", () => response.destroy());
  });
  response.on("close", () => {
    if (!response.writableFinished) outgoing.destroy();
  });
  if (upstream.body !== undefined) {
    outgoing.end(upstream.body);
  } else if (body.wasRead()) {
    body.read().then((bytes) => outgoing.end(bytes), () => outgoing.destroy());
  } else {
    request.pipe(outgoing);
  }
}

/**
 * Starts the gateway; `runRequest` is the driver's router and access phase, `reportError` learns of a
 * request that failed inside the driver (answered 500, or 413 for an oversized body).
 */
/** `http://host:port`, an IPv6 literal bracketed (RFC 3986 §3.2.2). */
export function formatHttpOrigin(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

export async function startGateway(
  runRequest: RequestProcessor,
  reportError: (error: unknown) => void,
  options: GatewayOptions = {},
): Promise<KongGateway> {
  const host = options.host ?? "127.0.0.1";
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 60_000;
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  let port = 0;
  const server = createServer((request, response) => {
    const body = createLazyBody(request, maxBodyBytes);
    const received: ReceivedRequest = {
      ...receiveRequest({
        method: request.method ?? "GET",
        path: request.url ?? "/",
        headers: headerListFromRawHeaders(request.rawHeaders),
        port,
        clientIp: clientAddress(request.socket.remoteAddress),
        clientPort: request.socket.remotePort ?? 0,
      }),
      // nginx reads the body only when the PDK asks; an unread body is piped upstream.
      readBody: body.read,
    };
    const capture = async (upstream: UpstreamRequest): Promise<ServiceResponse> => {
      if (upstream.url === undefined) throw new UpstreamFailure(503);
      return captureUpstreamResponse({ ...upstream, url: upstream.url }, upstream.body ?? (await body.read()), upstreamTimeoutMs);
    };
    runRequest(received, capture)
      .then((outcome) => {
        if (outcome.kind === "exit") {
          writeKongResponse(response, received.method, outcome.status, outcome.headers, outcome.body);
        } else if (outcome.response !== undefined) {
          writeKongResponse(response, received.method, outcome.response.status, outcome.response.headers, outcome.response.body);
        } else if (outcome.upstreamRequest.url === undefined) {
          writeKongError(response, received, 503, "no Service found with those values");
        } else {
          proxyToUpstream({ ...outcome.upstreamRequest, url: outcome.upstreamRequest.url }, request, received, response, body, upstreamTimeoutMs);
        }
      })
      .catch((error: unknown) => {
        if (error instanceof UpstreamFailure) return writeKongError(response, received, error.status, error.status === 503 ? "no Service found with those values" : undefined);
        reportError(error);
        writeKongError(response, received, error instanceof RequestBodyTooLargeError ? 413 : 500);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: formatHttpOrigin(host, port),
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
