import {
  AuthorizationServerUnavailable,
  GateFailure,
  InsufficientScope,
  InvalidJsonRpc,
  InvalidRequest,
  InvalidToken,
  MetadataMethodNotAllowed,
  MissingToken,
  Refusal,
  shortenText,
  UnfilterableList,
} from "./refusals";

/** A complete answer for kong.response.exit: the body is always a non-empty string. */
export interface GateResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What a bearer challenge can say besides the error (RFC 6750 §3, RFC 9728 §5.1). */
export interface ChallengeContext {
  readonly resourceMetadataUrl?: string;
  /** Scopes to ask for; the parameter is omitted when empty (an empty scope="" is useless). */
  readonly scopes?: readonly string[];
}

const JSON_HEADERS = { "Content-Type": "application/json" } as const;

/**
 * RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. Anything else, and
 * `=` (clients parse challenges with loose patterns such as `scope=`), becomes `?`.
 */
function sanitizeDescription(description: string): string {
  return shortenText(description.replace(/[^\x20\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]/g, "?"), 300);
}

/** A `Bearer` challenge; auth-params appear once each, in a fixed order. */
export function formatBearerChallenge(error: string | undefined, description: string | undefined, context: ChallengeContext): string {
  const params: string[] = [];
  if (error !== undefined) params.push(`error="${error}"`);
  if (description !== undefined) params.push(`error_description="${sanitizeDescription(description)}"`);
  if (context.scopes !== undefined && context.scopes.length > 0) params.push(`scope="${context.scopes.join(" ")}"`);
  if (context.resourceMetadataUrl !== undefined) params.push(`resource_metadata="${context.resourceMetadataUrl}"`);
  return params.length === 0 ? "Bearer" : `Bearer ${params.join(", ")}`;
}

function answerJson(status: number, body: unknown, extraHeaders: Record<string, string> = {}): GateResponse {
  return { status, headers: { ...JSON_HEADERS, ...extraHeaders }, body: JSON.stringify(body) };
}

/** The JSON document of a successful metadata request. */
export function answerDocument(document: unknown): GateResponse {
  return answerJson(200, document);
}

/** Headers a refusal answers with besides Content-Type: its challenge, Retry-After or Allow. */
function describeRefusalHeaders(refusal: Refusal, context: ChallengeContext): Record<string, string> {
  if (refusal instanceof MissingToken) return { "WWW-Authenticate": formatBearerChallenge(undefined, undefined, context) };
  if (refusal instanceof InvalidRequest) {
    return { "WWW-Authenticate": formatBearerChallenge(refusal.errorCode, refusal.description, { resourceMetadataUrl: context.resourceMetadataUrl }) };
  }
  if (refusal instanceof InvalidToken) return { "WWW-Authenticate": formatBearerChallenge(refusal.errorCode, refusal.description, context) };
  if (refusal instanceof InsufficientScope) {
    return { "WWW-Authenticate": formatBearerChallenge(refusal.errorCode, refusal.description, { ...context, scopes: refusal.requiredScopes }) };
  }
  if (refusal instanceof AuthorizationServerUnavailable) return { "Retry-After": String(refusal.retryAfterSeconds) };
  if (refusal instanceof MetadataMethodNotAllowed) return { Allow: "GET, HEAD" };
  return {};
}

/**
 * The one place refusals become responses: status, `WWW-Authenticate` for authentication and
 * authorization failures (RFC 6750 §3), `Retry-After` when the authorization server is unavailable, a JSON body always.
 */
export function renderRefusal(refusal: Refusal, context: ChallengeContext): GateResponse {
  if (refusal instanceof InvalidJsonRpc || refusal instanceof UnfilterableList) {
    // JSON-RPC 2.0 §5: MCP clients read a JSON-RPC error object best.
    return answerJson(refusal.status, { jsonrpc: "2.0", id: null, error: { code: refusal.jsonRpcCode, message: refusal.description } });
  }
  const body: Record<string, string> = { error: refusal.errorCode, error_description: refusal.description };
  // Clients such as the AI SDK's MCP client hand an application only the body of a 403: the scope
  // to step up to must be there too (as in the challenge, left out when no scope would help).
  if (refusal instanceof InsufficientScope && refusal.requiredScopes.length > 0) body.scope = refusal.requiredScopes.join(" ");
  return answerJson(refusal.status, body, describeRefusalHeaders(refusal, context));
}

/** A refusal for anything that is not a Refusal: the gate never lets an exception through. */
export function toRefusal(error: unknown): Refusal {
  if (error instanceof Refusal) return error;
  return new GateFailure("the gateway could not decide on this request", `unexpected error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
}
