import type { VerifiedToken } from "./access-token-verifier";
import type { ConsumerIdentity } from "./consumer-identity";
import type { GatePolicy } from "./gate-config";
import type { JsonRpcCall } from "./json-rpc-calls";
import { findGrantingScopes } from "./method-acl";
import { shortenText, type Refusal } from "./refusals";

/** Calls listed per record: a batch of thousands must not make every log line as large. */
const MAX_LISTED_CALLS = 20;
/** Client-chosen method and item names are cut to this many characters. */
const MAX_NAME_LENGTH = 100;
/** A subject or client id as the record keeps it: claims are the issuer's, their length is not. */
const MAX_IDENTITY_LENGTH = 256;

/** One JSON-RPC call of the request, with the mapped scope that allowed it (absent when none did). */
export interface RecordedCall {
  readonly method: string;
  readonly item?: string;
  readonly scope?: string;
}

/**
 * What Kong's log plugins (http-log, file-log, ...) find under `mcp_oauth2` with `log_decisions`.
 * Never the token; claim values, consumer fields and client-chosen names only, each bounded.
 */
export interface DecisionRecord {
  /** `would_refuse`: acl_mode dry_run let through a request the ACL refuses. */
  readonly decision: "allowed" | "refused" | "would_refuse";
  /** For refusals and would-be refusals: the status answered (or that would have been). */
  readonly status?: number;
  /** The error code of the refusal: unauthorized, invalid_token, insufficient_scope, invalid_request, ... */
  readonly reason?: string;
  /** The error_description the client got (or would have got). */
  readonly description?: string;
  readonly issuer?: string;
  readonly subject?: string;
  readonly client_id?: string;
  readonly consumer?: { readonly id: string; readonly username?: string; readonly custom_id?: string; readonly anonymous?: true };
  readonly calls?: readonly RecordedCall[];
  /** How many calls of a large batch are not listed. */
  readonly calls_not_listed?: number;
  /** A CORS preflight let through without a token (run_on_preflight off). */
  readonly preflight?: true;
}

/** What the gate learnt about a request on its way to the decision, for the record. */
export interface DecisionTrail {
  verified?: VerifiedToken;
  identity?: ConsumerIdentity;
  calls?: readonly JsonRpcCall[];
}

function describeConsumer(identity: ConsumerIdentity | undefined): DecisionRecord["consumer"] {
  if (identity === undefined || identity.kind === "credential") return undefined;
  const { id, username, custom_id: customId } = identity.consumer;
  const consumer: { id: string; username?: string; custom_id?: string; anonymous?: true } = { id };
  if (typeof username === "string") consumer.username = username;
  if (typeof customId === "string") consumer.custom_id = customId;
  if (identity.kind === "anonymous") consumer.anonymous = true;
  return consumer;
}

function describeCalls(policy: GatePolicy, verified: VerifiedToken | undefined, calls: readonly JsonRpcCall[]): RecordedCall[] {
  const listed = calls.slice(0, MAX_LISTED_CALLS);
  const scopes = policy.acl === null || verified === undefined ? [] : findGrantingScopes(policy.acl, verified.scopes, listed);
  return listed.map((call, index) => {
    const recorded: { method: string; item?: string; scope?: string } = { method: shortenText(call.method, MAX_NAME_LENGTH) };
    if (call.item !== undefined) recorded.item = shortenText(call.item, MAX_NAME_LENGTH);
    const scope = scopes[index];
    if (scope !== undefined) recorded.scope = scope;
    return recorded;
  });
}

/**
 * The record of one decision: who (issuer, subject, client, consumer), what (the JSON-RPC calls
 * and the scope that allowed each), and the outcome with its reason. Only what the gate learnt
 * before deciding is there: a request refused for its token names no subject.
 */
export function recordDecision(policy: GatePolicy, trail: DecisionTrail, decision: DecisionRecord["decision"], refusal?: Refusal): DecisionRecord {
  const record: { -readonly [Key in keyof DecisionRecord]: DecisionRecord[Key] } = { decision };
  if (refusal !== undefined) {
    record.status = refusal.status;
    record.reason = refusal.errorCode;
    record.description = refusal.description;
  }
  const { verified, calls } = trail;
  if (verified !== undefined) {
    record.issuer = verified.issuer;
    if (verified.subject !== undefined) record.subject = shortenText(verified.subject, MAX_IDENTITY_LENGTH);
    if (verified.clientId !== undefined) record.client_id = shortenText(verified.clientId, MAX_IDENTITY_LENGTH);
  }
  const consumer = describeConsumer(trail.identity);
  if (consumer !== undefined) record.consumer = consumer;
  // An empty list would reach Kong's JSON encoder as an empty table, written {}: leave it out.
  if (calls !== undefined && calls.length > 0) {
    record.calls = describeCalls(policy, verified, calls);
    if (calls.length > MAX_LISTED_CALLS) record.calls_not_listed = calls.length - MAX_LISTED_CALLS;
  }
  return record;
}
