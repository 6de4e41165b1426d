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

/** A line for Kong's error log, through kong.log.<level>. */
export interface OperatorLog {
  readonly level: OperatorLogLevel;
  readonly message: string;
}

const MAX_LOG_MESSAGE = 2000;

/**
 * Characters a log line must not carry raw: C0 and C1 controls and DEL (a terminal or a log viewer
 * acts on them), the Unicode line and paragraph separators (some viewers break lines there), every
 * bidirectional control (they reorder what an operator reads: U+202A-202E and U+2066-2069, and the
 * marks U+200E, U+200F, U+061C) and the characters Unicode says to ignore in display (zero-width
 * spaces and joiners, U+FEFF...), which hide text.
 */
const LOG_UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Bidi_Control}\p{Default_Ignorable_Code_Point}]/gu;

/** C0, DEL and C1 as \xNN; the others as \uNNNN, or \u{NNNNN} beyond the Basic Multilingual Plane. */
function escapeForLog(character: string): string {
  const code = character.codePointAt(0)!;
  if (code <= 0x9f) return `\\x${code.toString(16).padStart(2, "0")}`;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Kong's error log is line-based: client-chosen text must not start a line of its own, and no
 * line may grow with what a client sends (each value is cut where it is quoted, the line here).
 * Lines start with the plugin's name.
 */
export function formatOperatorLog(level: OperatorLogLevel, message: string, plugin = "mcp-oauth2"): OperatorLog {
  return { level, message: shortenText(`${plugin}: ${message}`, MAX_LOG_MESSAGE).replace(LOG_UNSAFE, escapeForLog) };
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
   * missing token is every client's first step; a malformed request is logged at notice only
   * once its token is verified). Each log line costs a PDK round trip.
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

/**
 * A response to a list request that the list filter cannot read (not JSON, compressed, a list
 * where none was asked for): it must not reach the client unfiltered, so the gateway answers
 * instead (RFC 9110 §15.6.3: an invalid response from the upstream).
 */
export class UnfilterableList extends Refusal {
  readonly status = 502;
  readonly errorCode = "bad_gateway";
  override readonly logLevel = "err";
  /** JSON-RPC 2.0 §5.1 internal error: the call may have run, but its answer cannot be shown. */
  readonly jsonRpcCode = -32603;
}

/** RFC 9728 metadata is read-only: only GET and HEAD. */
export class MetadataMethodNotAllowed extends Refusal {
  readonly status = 405;
  readonly errorCode = "method_not_allowed";
  /** Asked before any token is looked at, so never logged: the description is all there is. */
  constructor() {
    super("protected resource metadata supports only GET and HEAD");
  }
}

/** The plugin cannot decide (bad configuration, unexpected exception): refuse, never pass. */
export class GateFailure extends Refusal {
  readonly status = 500;
  readonly errorCode = "server_error";
  override readonly logLevel = "err";
}
