/**
 * Every way the gate can refuse a request, as values. Core modules throw these; one function
 * (`renderRefusal` in gate-response.ts) turns them into status, challenge and body.
 *
 * `description` goes to the client (RFC 6750 §3 error_description: it must never contain the
 * token); `detail` goes only to the operator's log and may name expected and received values.
 */
export type OperatorLogLevel = "err" | "warn" | "notice";

/**
 * Text cut to `maxLength` characters, ending in "..." when cut: what a client or a token chose
 * must not make a refusal, a challenge or a log line arbitrarily long.
 */
export function shortenText(text: string, maxLength: number): string {
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}

/** Client-chosen text as a refusal or a log line quotes it: JSON-quoted, cut to 100 characters. */
export function quoteText(text: string): string {
  return JSON.stringify(shortenText(text, 100));
}

export abstract class Refusal extends Error {
  abstract readonly status: number;
  /** The OAuth error code of the JSON body, and of the challenge where one is sent (RFC 6750 §3.1). */
  abstract readonly errorCode: string;
  /**
   * Kong log level for this refusal, or undefined when it is the client's own business (a
   * missing token is every client's first step). Each log line costs a PDK round trip.
   */
  readonly logLevel: OperatorLogLevel | undefined = undefined;

  constructor(
    readonly description: string,
    readonly detail: string = description,
  ) {
    super(description);
    this.name = new.target.name;
  }
}

/** RFC 6750 §3.1: the request carries no credential at all; the challenge has no `error`. */
export class MissingToken extends Refusal {
  readonly status = 401;
  readonly errorCode = "unauthorized";
  constructor() {
    super("no bearer token in the request");
  }
}

/** RFC 6750 §3.1 invalid_request: malformed credential, or the credential sent twice. */
export class InvalidRequest extends Refusal {
  readonly status = 400;
  readonly errorCode = "invalid_request";
}

/** RFC 6750 §3.1 invalid_token: expired, revoked, malformed, wrong issuer/audience, bad signature. */
export class InvalidToken extends Refusal {
  readonly status = 401;
  readonly errorCode = "invalid_token";
  override readonly logLevel = "warn";
}

/** RFC 6750 §3.1 insufficient_scope: a valid token whose scopes do not allow the JSON-RPC call. */
export class InsufficientScope extends Refusal {
  readonly status = 403;
  readonly errorCode = "insufficient_scope";
  override readonly logLevel = "notice";
  constructor(
    description: string,
    detail: string,
    /** Scopes that would let the request through; empty when no configured scope would. */
    readonly requiredScopes: readonly string[],
  ) {
    super(description, detail);
  }
}

/**
 * The authorization server cannot be asked right now (unreachable, timed out, invalid answer), so
 * the token cannot be judged. Not the client's fault: a 401 would send it into a login loop.
 * Answered with 503 and Retry-After.
 */
export abstract class AuthorizationServerUnavailable extends Refusal {
  readonly status = 503;
  readonly errorCode = "temporarily_unavailable";
  override readonly logLevel = "err";
  constructor(
    description: string,
    detail: string,
    readonly retryAfterSeconds: number,
  ) {
    super(description, detail);
  }
}

/** The authorization server's keys cannot be had and no cached key can decide. */
export class KeysUnavailable extends AuthorizationServerUnavailable {
  constructor(detail: string, retryAfterSeconds: number) {
    super("the authorization server's signing keys are temporarily unavailable", detail, retryAfterSeconds);
  }
}

/** No introspection endpoint (RFC 7662) could say whether the token is active. */
export class IntrospectionUnavailable extends AuthorizationServerUnavailable {
  constructor(detail: string, retryAfterSeconds: number) {
    super("the authorization server cannot check the token right now", detail, retryAfterSeconds);
  }
}

/** The body is larger than `max_body_size`, or Kong could not hand it over. */
export class BodyTooLarge extends Refusal {
  readonly status = 413;
  readonly errorCode = "request_too_large";
  override readonly logLevel = "notice";
}

/** With the ACL on, only JSON bodies can be judged (MCP Streamable HTTP posts application/json). */
export class UnsupportedMediaType extends Refusal {
  readonly status = 415;
  readonly errorCode = "unsupported_media_type";
}

/** With the ACL on, a request asks to switch protocols: what follows the switch is never judged. */
export class ProtocolUpgradeRefused extends Refusal {
  readonly status = 400;
  readonly errorCode = "invalid_request";
  constructor(upgrade: string) {
    super("protocol upgrades are not accepted on an MCP endpoint with the ACL on", `Upgrade ${quoteText(upgrade)} refused: the ACL could not see what follows it`);
  }
}

/** The body is not JSON-RPC the ACL can judge (JSON-RPC 2.0 §5.1: parse error / invalid request). */
export class InvalidJsonRpc extends Refusal {
  readonly status = 400;
  /** The OAuth name for it; its answer is a JSON-RPC error object instead (JSON-RPC 2.0 §5.1). */
  readonly errorCode = "invalid_request";
  constructor(
    description: string,
    readonly jsonRpcCode: -32700 | -32600 | -32602 | -32020,
  ) {
    super(description);
  }
}

/** RFC 9728 metadata is read-only: only GET and HEAD. */
export class MetadataMethodNotAllowed extends Refusal {
  readonly status = 405;
  readonly errorCode = "method_not_allowed";
  constructor(method: string) {
    super("protected resource metadata supports only GET and HEAD", `metadata requested with ${quoteText(method)}`);
  }
}

/** The plugin cannot decide (bad configuration, unexpected exception): refuse, never pass. */
export class GateFailure extends Refusal {
  readonly status = 500;
  readonly errorCode = "server_error";
  override readonly logLevel = "err";
}
