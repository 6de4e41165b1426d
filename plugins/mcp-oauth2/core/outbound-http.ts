/**
 * Reading answers of the authorization server (JWKS, token introspection): work done before a
 * request is authenticated, so every answer is bounded in time (the caller's AbortSignal) and size.
 */

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Thrown when an answer is larger than its limit. */
function tooLarge(maxBytes: number): Error {
  return new Error(`is larger than ${maxBytes} bytes`);
}

/**
 * The body of `response` as UTF-8 text, refused once it exceeds `maxBytes` (by Content-Length or
 * while streaming, so a hostile server cannot make the gate buffer more).
 */
export async function readBoundedText(response: Response, maxBytes: number): Promise<string> {
  if (Number(response.headers.get("content-length") ?? 0) > maxBytes) {
    await response.body?.cancel();
    throw tooLarge(maxBytes);
  }
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return utf8.decode(Buffer.concat(chunks, length));
}

/** Why a fetch failed, for the operator's log: a timeout, or the error and its cause. */
export function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return `timed out after ${timeoutMs} ms`;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error instanceof Error ? error.message : String(error)}${cause}`;
}
