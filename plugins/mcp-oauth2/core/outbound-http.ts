import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/**
 * Requests to the authorization server (JWKS, token introspection): work done before a request is
 * authenticated, so every exchange is bounded in time (an AbortSignal) and size.
 */

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Idle kept-alive connections are closed after this long, before common servers close them
 * (Node's default keep-alive timeout is 5 s), so a request rarely meets a connection being closed.
 */
const IDLE_CONNECTION_MS = 4_000;
/**
 * No cap on connections per host here: the introspector bounds its calls per endpoint and purpose
 * (token-introspection.ts), and refuses past its limits instead of queueing. A per-host cap would
 * queue revocation checks behind a flood of opaque tokens at the same server, and one Keycloak
 * realm's calls behind another's on the same host.
 */
const agentOptions = { keepAlive: true, timeout: IDLE_CONNECTION_MS };
/** Kept-alive connections: a call costs a request, not a TCP (and TLS) handshake. */
const agents = { "http:": new HttpAgent(agentOptions), "https:": new HttpsAgent(agentOptions) };

/** Thrown when an answer is larger than its limit. */
function tooLarge(maxBytes: number): Error {
  return new Error(`is larger than ${maxBytes} bytes`);
}

/**
 * A body as UTF-8 text, refused once it exceeds `maxBytes` (by its declared Content-Length or
 * while streaming, so a hostile server cannot make the gate buffer more). The refusal is thrown
 * inside the loop: leaving it cancels the stream, so no connection stays held by an unread body.
 */
export async function readBoundedText(body: AsyncIterable<Uint8Array> | null, declaredLength: string | null | undefined, maxBytes: number): Promise<string> {
  const declaredTooLarge = Number(declaredLength ?? 0) > maxBytes;
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body ?? []) {
    length += chunk.byteLength;
    if (declaredTooLarge || length > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (declaredTooLarge) throw tooLarge(maxBytes);
  return utf8.decode(Buffer.concat(chunks, length));
}

/** Why a request failed, for the operator's log: a timeout, or the error and its cause. */
export function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return `timed out after ${timeoutMs} ms`;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error instanceof Error ? error.message : String(error)}${cause}`;
}

/** A form POST and what it needs. */
export interface FormPost {
  readonly url: string;
  /** The application/x-www-form-urlencoded body. */
  readonly form: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** The status and the body (bounded) of an answer. */
export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}

/** A kept-alive connection the server had closed as it was reused: the request never got through. */
class StaleConnection extends Error {}

function postOnce(post: FormPost, maxBytes: number, signal: AbortSignal): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(post.url);
    const protocol = url.protocol === "https:" ? "https:" : "http:";
    const send = protocol === "https:" ? httpsRequest : httpRequest;
    const request: ClientRequest = send(
      url,
      { method: "POST", headers: { ...post.headers, "content-length": String(Buffer.byteLength(post.form)) }, agent: agents[protocol], signal },
      // node:http never follows redirects: a 3xx comes back as an answer like any other.
      (response: IncomingMessage) => {
        readBoundedText(response, response.headers["content-length"], maxBytes).then((text) => resolve({ status: response.statusCode ?? 0, text }), reject);
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => reject(request.reusedSocket && error.code === "ECONNRESET" ? new StaleConnection() : error));
    request.end(post.form);
  });
}

/**
 * POSTs a form within `timeoutMs` over a kept-alive connection and returns the answer, its body
 * refused beyond `maxBytes`. Redirects are not followed. A connection found closed on reuse is
 * replaced once (the request did not reach the server).
 */
export async function postBoundedForm(post: FormPost, maxBytes: number): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(post.timeoutMs);
  try {
    return await postOnce(post, maxBytes, signal).catch((error: unknown) => {
      if (error instanceof StaleConnection) return postOnce(post, maxBytes, signal);
      throw error;
    });
  } catch (error) {
    // An aborted exchange fails with whatever the socket saw; the reason is the time limit.
    throw signal.aborted ? signal.reason : error;
  }
}
