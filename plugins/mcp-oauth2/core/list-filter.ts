import { randomBytes } from "node:crypto";
import { renderRefusal, toRefusal } from "./gate-response";
import { parseMediaType } from "./json-body-headers";
import { locateRequests, type JsonRpcBody } from "./json-rpc-calls";
import { findMemberValue, replaceRanges, splitJsonContainer, trimJsonWhitespace, type TextRange } from "./json-text-ranges";
import { findFoldedMemberName } from "./member-name-folding";
import { describeItemGrants, matchesItemGlobs, type ItemGrant, type MethodAcl } from "./method-acl";
import { formatOperatorLog, GateFailure, InvalidJsonRpc, type OperatorLog, quoteText, shortenText, UnfilterableList } from "./refusals";
import { readResourceUri } from "./resource-uri";
import { DuplicateKeyError, isJsonObject, parseJsonWithUniqueKeys } from "./unique-key-json";

/** The calls that name a listed item: a token may see in a list what it may call, get or read. */
const ITEM_CALLS = ["tools/call", "prompts/get", "resources/read"] as const;
type ItemCall = (typeof ITEM_CALLS)[number];

/**
 * MCP's list methods: the member of their result that holds the items, the call an item is judged
 * as, and the member that names an item.
 */
const LISTED_ITEMS: ReadonlyMap<string, { readonly member: string; readonly call: ItemCall; readonly nameMember: "name" | "uri" | "uriTemplate" }> = new Map([
  ["tools/list", { member: "tools", call: "tools/call", nameMember: "name" }],
  ["prompts/list", { member: "prompts", call: "prompts/get", nameMember: "name" }],
  ["resources/list", { member: "resources", call: "resources/read", nameMember: "uri" }],
  // A template is a family of URIs: it is listed when a resources/read glob matches it as written.
  ["resources/templates/list", { member: "resourceTemplates", call: "resources/read", nameMember: "uriTemplate" }],
]);

/**
 * A list request as mcp-oauth2 hands it to the list filter. The upstream answers it under
 * `answered_as`: an id the gateway chose, random, which replaces the client's. MCP servers send
 * a response down the stream of the last request that used its id (the TypeScript and Python
 * SDKs do not refuse a second in-flight request with the same id), so under the client's own id
 * a second POST of the session, whose response Kong streams unfiltered, could take the list over.
 */
export interface SharedListRequest {
  readonly method: string;
  /** JSON text of the id the upstream answers under. */
  readonly answered_as: string;
  /** JSON text of the id as the client wrote it, put back into the response. */
  readonly asked_as: string;
}

/**
 * What mcp-oauth2 leaves in `kong.ctx.shared.mcp_oauth2.listing` for mcp-oauth2-list-filter, in
 * values that cross Kong's Lua unchanged (strings, numbers, booleans, arrays, records).
 */
export interface SharedListing {
  /** For tools/call, prompts/get and resources/read: "all", or the globs an item must match. */
  readonly grants: Readonly<Record<ItemCall, ItemGrant>>;
  /** The body's list requests, which the response answers by id. */
  readonly requests: readonly SharedListRequest[];
  /** acl_mode dry_run: report what would be removed, remove nothing, change nothing. */
  readonly dry_run: boolean;
}

/** The listing to hand over, and the body the upstream must get instead of the client's. */
export interface ListingOfBody {
  readonly listing: SharedListing;
  /** The body with each list request's id replaced by the gateway's; undefined in a dry run, which changes nothing. */
  readonly upstreamBody: string | undefined;
}

/** List requests (tools/list, prompts/list...) one body may carry with filter_lists on. */
export const MAX_LIST_REQUESTS = 64;

/** 128 random bits: no client can guess the id of another request's list. */
function chooseGatewayId(): string {
  return `mcp-oauth2-${randomBytes(16).toString("base64url")}`;
}

/**
 * Whether the token sees every list whole: then nothing needs filtering, and nothing that
 * replays a stream (Last-Event-ID) can show it more than it may see.
 */
export function seesEveryListWhole(acl: MethodAcl, grantedScopes: readonly string[]): boolean {
  return Object.values(describeItemGrants(acl, grantedScopes, ITEM_CALLS)).every((grant) => grant === "all");
}

/**
 * The listing the list filter needs for this request, or undefined when the body lists nothing
 * or only lists whose every item the token may call: then there is nothing to filter.
 */
export function describeListing(acl: MethodAcl, grantedScopes: readonly string[], body: JsonRpcBody | undefined, dryRun: boolean): ListingOfBody | undefined {
  if (body === undefined) return undefined;
  const listed = body.calls.flatMap((call) => LISTED_ITEMS.get(call.method) ?? []);
  if (listed.length === 0) return undefined;
  // Each list request costs an id, a record in kong.ctx.shared and a message to filter; clients send one at a time.
  if (listed.length > MAX_LIST_REQUESTS) throw new InvalidJsonRpc(`a body may carry at most ${MAX_LIST_REQUESTS} list requests`, -32600);
  const grants = describeItemGrants(acl, grantedScopes, ITEM_CALLS);
  if (listed.every(({ call }) => grants[call] === "all")) return undefined;
  const listRequests = locateRequests(body, (method) => LISTED_ITEMS.has(method));
  // A dry run changes nothing: the upstream answers under the client's id, in its plain JSON form.
  const answeredAs = listRequests.map(({ idText }) => JSON.stringify(dryRun ? JSON.parse(idText) : chooseGatewayId()));
  const requests = listRequests.map(({ method, idText }, index) => ({ method, answered_as: answeredAs[index]!, asked_as: idText }));
  const upstreamBody = dryRun ? undefined : replaceRanges(body.text, listRequests.map(({ idRange }, index) => [idRange, answeredAs[index]!] as const));
  const listing = { grants, requests, dry_run: dryRun };
  return { listing, upstreamBody };
}

/** The list filter's view of the request: the listing to apply, and whose token it is. */
export interface ListingOfRequest {
  readonly listing: SharedListing;
  /** The token's subject or client, for the operator's log. */
  readonly holder: string;
}

/** An array as it comes back through Kong's Lua, whose empty table may arrive as {}; undefined for anything else. */
function readLuaArray(value: unknown): unknown[] | undefined {
  if (isJsonObject(value) && Object.keys(value).length === 0) return [];
  return Array.isArray(value) ? value : undefined;
}

function readItemGrant(value: unknown): ItemGrant | undefined {
  if (value === "all") return value;
  const globs = readLuaArray(value);
  return globs?.every((glob) => typeof glob === "string") ? (globs as string[]) : undefined;
}

function isSharedListRequest(request: unknown): request is SharedListRequest {
  return isJsonObject(request) && typeof request.method === "string" && LISTED_ITEMS.has(request.method) && typeof request.answered_as === "string" && typeof request.asked_as === "string";
}

function readListRequests(value: unknown): SharedListRequest[] | undefined {
  const requests = readLuaArray(value);
  return requests?.every(isSharedListRequest) ? (requests as SharedListRequest[]) : undefined;
}

const UNDECIDED = "the gateway could not decide what this token may list";

/**
 * Reads `kong.ctx.shared.mcp_oauth2` as mcp-oauth2 left it: undefined when there is nothing to
 * filter (no listing: the request lists nothing the token may not see whole, or a CORS
 * preflight). Throws GateFailure when mcp-oauth2 did not let the request through, does not hand
 * listings over (filter_lists off) or left something else: no list may reach the client unfiltered.
 */
export function readSharedListing(shared: unknown): ListingOfRequest | undefined {
  if (!isJsonObject(shared)) throw new GateFailure(UNDECIDED, "kong.ctx.shared.mcp_oauth2 is not set: mcp-oauth2 did not let this request through (is it on the route?)");
  if (shared.preflight === true) return undefined;
  if (shared.filter_lists !== true) throw new GateFailure(UNDECIDED, "mcp-oauth2 on this route hands over no listings: turn its filter_lists on");
  if (shared.listing === undefined) return undefined;
  const { listing } = shared;
  const notWritten = new GateFailure(UNDECIDED, "kong.ctx.shared.mcp_oauth2.listing is not what mcp-oauth2 writes (another plugin changed it?)");
  if (!isJsonObject(listing)) throw notWritten;
  const grants = isJsonObject(listing.grants) ? listing.grants : {};
  const readGrants = Object.fromEntries(ITEM_CALLS.map((call) => [call, readItemGrant(grants[call])]));
  const requests = readListRequests(listing.requests);
  if (ITEM_CALLS.some((call) => readGrants[call] === undefined) || requests === undefined || typeof listing.dry_run !== "boolean") throw notWritten;
  const holder = [shared.subject, shared.client_id].find((value) => typeof value === "string") ?? "unknown subject";
  return { listing: { grants: readGrants as Record<ItemCall, ItemGrant>, requests, dry_run: listing.dry_run }, holder: String(holder) };
}

/** An item left out of a list: the list method and the item's name, URI or URI template. */
export interface RemovedItem {
  readonly method: string;
  readonly name: string;
}

/** Whether a token allowed `globs` for `call` may see `item` in a list: exactly whether it may call, get or read it. */
function isListable(globs: readonly string[], call: ItemCall, nameMember: string, name: string): boolean {
  if (nameMember !== "uri") return matchesItemGlobs(globs, { method: call, item: name });
  let readable: ReturnType<typeof readResourceUri>;
  try {
    readable = readResourceUri(name);
  } catch {
    // The gate refuses to read such a URI (400): listing it would offer what cannot be read.
    return false;
  }
  return matchesItemGlobs(globs, { method: call, item: readable.uri, resolvedItem: readable.resolved });
}

const UNFILTERABLE = "the list response could not be filtered";
/** The members of a JSON-RPC response (and of a message the server sends on its own). */
const MESSAGE_MEMBERS: ReadonlySet<string> = new Set(["jsonrpc", "id", "result", "error", "method", "params"]);
const NO_OTHER_NAMES: ReadonlySet<string> = new Set();

/**
 * Refuses member names a client could read as another (Go's encoding/json matches case-insensitively,
 * the last of two wins): a message `ID`, a result with `tools` and `Tools`, an item with `name` and `NAME`.
 */
function checkMemberNames(object: Readonly<Record<string, unknown>>, structural: ReadonlySet<string>, where: string): void {
  const folded = findFoldedMemberName(object, structural);
  if (folded !== undefined) throw new UnfilterableList(UNFILTERABLE, `${where} has the member ${quoteText(folded)}, which clients may read as another`);
}

/** Filters the items of the responses to list requests, message by message, remembering what it removed. */
class ListResponseFilter {
  readonly removed: RemovedItem[] = [];
  private readonly requestsById = new Map<string, SharedListRequest>();

  constructor(private readonly listing: SharedListing) {
    for (const request of listing.requests) this.requestsById.set(request.answered_as, request);
  }

  /**
   * The text of a message answering a list request again, under the client's id and without the
   * items the token may not see (a dry run only counts them); undefined for any other message,
   * which stays as it is.
   */
  filterMessage(message: unknown, text: string): string | undefined {
    if (!isJsonObject(message)) return undefined;
    checkMemberNames(message, MESSAGE_MEMBERS, "a response message");
    const request = "id" in message ? this.requestsById.get(JSON.stringify(message.id)) : undefined;
    if (request === undefined) return undefined;
    const removedBefore = this.removed.length;
    if ("result" in message) this.filterItems(request, message.result);
    if (this.listing.dry_run) return undefined;
    const filtered = this.removed.length > removedBefore ? JSON.stringify(message) : text;
    return replaceRanges(filtered, [[findMemberValue(filtered, [0, filtered.length], "id")!, request.asked_as]]);
  }

  private filterItems({ method, asked_as: id }: SharedListRequest, result: unknown): void {
    const { member, call, nameMember } = LISTED_ITEMS.get(method)!;
    if (isJsonObject(result)) checkMemberNames(result, NO_OTHER_NAMES, `the result of ${method}`);
    const items = isJsonObject(result) ? result[member] : undefined;
    if (!Array.isArray(items)) throw new UnfilterableList(UNFILTERABLE, `the response to ${method} (id ${quoteText(id)}) has no ${member} array`);
    for (const item of items) if (isJsonObject(item)) checkMemberNames(item, NO_OTHER_NAMES, `an item of ${method}`);
    const grant = this.listing.grants[call];
    if (grant === "all") return;
    const kept = items.filter((item) => {
      const name = isJsonObject(item) ? item[nameMember] : undefined;
      const listable = typeof name === "string" && isListable(grant, call, nameMember, name);
      if (!listable) this.removed.push({ method, name: typeof name === "string" ? name : JSON.stringify(item) });
      return listable;
    });
    // A dry run returns no body: the parsed message may change all the same.
    (result as Record<string, unknown>)[member] = kept;
  }
}

const BYTE_ORDER_MARK = "\ufeff";

/** JSON.parse, refusing member names repeated where the filter reads: messages, results, items (a batch one level deeper). */
function parseResponseJson(text: string): unknown {
  try {
    return parseJsonWithUniqueKeys(text, (value) => (Array.isArray(value) ? 5 : 4));
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new UnfilterableList(UNFILTERABLE, `the response to a list request repeats the member name ${quoteText(error.key)}`);
    throw new UnfilterableList(UNFILTERABLE, "the response to a list request is not valid JSON");
  }
}

/**
 * JSON text holding one message or a batch, with each message that answers a list request
 * written again in place; every other character as it was. Undefined when no message changed.
 */
function filterJsonText(text: string, filter: ListResponseFilter): string | undefined {
  const whole = trimJsonWhitespace(text, [text.startsWith(BYTE_ORDER_MARK) ? 1 : 0, text.length]);
  if (whole[0] === whole[1]) return undefined;
  const parsed = parseResponseJson(text.slice(...whole));
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  const ranges = Array.isArray(parsed) ? splitJsonContainer(text, whole) : [whole];
  const replacements: Array<readonly [TextRange, string]> = [];
  messages.forEach((message, index) => {
    const range = ranges[index]!;
    const replacement = filter.filterMessage(message, text.slice(...range));
    if (replacement !== undefined) replacements.push([range, replacement]);
  });
  return replacements.length > 0 ? replaceRanges(text, replacements) : undefined;
}

/** A `data:` line of an event: where the line starts and ends (terminator included), its value and terminator. */
interface DataLine {
  readonly from: number;
  readonly to: number;
  readonly value: string;
  readonly terminator: string;
}

const LINE_END = /[\r\n]/g;
/** Line breaks inside replaced data: the joined data lines, and a client's id (JSON whitespace may hold a CR). */
const LINE_BREAK = /\r\n|[\r\n]/;

/**
 * An SSE body (WHATWG HTML §9.2.6: lines end in CRLF, LF or CR; a blank line ends an event) with
 * the data of each `message` event that changed replaced in place; every other line as it was.
 * Events of other types are left alone: MCP clients ignore them. Undefined when nothing changed.
 */
function filterEventStream(text: string, filter: ListResponseFilter): string | undefined {
  let filtered = "";
  let copiedUpTo = 0;
  let changed = false;
  let dataLines: DataLine[] = [];
  let eventType = "";
  const dispatch = (): void => {
    const data = dataLines.map((line) => line.value).join("\n");
    const replacement = eventType === "" || eventType === "message" ? filterJsonText(data, filter) : undefined;
    if (replacement !== undefined) {
      const [first, ...others] = dataLines as [DataLine, ...DataLine[]];
      // Only the last line of a stream ends without a terminator; its data, one line, has no line break.
      filtered += text.slice(copiedUpTo, first.from) + replacement.split(LINE_BREAK).map((line) => `data: ${line}`).join(first.terminator) + first.terminator;
      copiedUpTo = first.to;
      for (const line of others) {
        filtered += text.slice(copiedUpTo, line.from);
        copiedUpTo = line.to;
      }
      changed = true;
    }
    dataLines = [];
    eventType = "";
  };
  let position = text.startsWith(BYTE_ORDER_MARK) ? 1 : 0;
  while (position < text.length) {
    LINE_END.lastIndex = position;
    const lineEnd = LINE_END.exec(text)?.index ?? text.length;
    const next = text.startsWith("\r\n", lineEnd) ? lineEnd + 2 : Math.min(lineEnd + 1, text.length);
    const line = text.slice(position, lineEnd);
    // A comment (`:` first) names the field "", which nothing reads.
    if (line === "") {
      dispatch();
    } else {
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(line.startsWith(" ", colon + 1) ? colon + 2 : colon + 1);
      if (field === "data") dataLines.push({ from: position, to: next, value, terminator: text.slice(lineEnd, next) });
      else if (field === "event") eventType = value;
    }
    position = next;
  }
  // An event the stream ends without a blank line: filtered all the same.
  dispatch();
  return changed ? filtered + text.slice(copiedUpTo) : undefined;
}

/** The upstream response as Kong buffered it. */
export interface BufferedResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly body: Uint8Array;
}

/** What the list filter makes of a response: the body to send instead, and what it removed. */
export interface FilteredResponse {
  /** Undefined when the body stays as the upstream sent it (it answers no list request, or a dry run). */
  readonly body: string | undefined;
  readonly removed: readonly RemovedItem[];
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Lenient like MCP clients' decoders (TextDecoder, fetch), but the byte order mark is kept. */
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Removes from the responses to `tools/list`, `prompts/list`, `resources/list` and
 * `resources/templates/list` the items the token may not call, get or read, exactly as the ACL
 * would decide (item globs, the scope hierarchy, resource URIs as sent and as resolved); a
 * template stays when a resources/read glob matches it as written. Reads JSON (one message or a
 * batch) and SSE bodies; puts the client's id back into each response to a list request;
 * pagination cursors and every message, event and byte it does not change stay as they are.
 * Throws UnfilterableList for a body it cannot read: compressed, of a media type MCP clients do
 * not read as messages (a lenient client could still read it), not JSON, member names a client
 * may read as others, or a response to a list request without its list.
 */
export function filterListResponse(listing: SharedListing, response: BufferedResponse): FilteredResponse {
  if (response.body.length === 0) return { body: undefined, removed: [] };
  const encoding = (response.contentEncoding ?? "").trim().toLowerCase();
  if (encoding !== "" && encoding !== "identity") {
    throw new UnfilterableList(UNFILTERABLE, `the response to a list request is compressed (Content-Encoding ${quoteText(encoding)})`);
  }
  const mediaType = response.contentType === undefined ? undefined : parseMediaType(response.contentType)?.essence;
  const filter = new ListResponseFilter(listing);
  const text = utf8.decode(response.body);
  let filtered: string | undefined;
  if (mediaType === "text/event-stream") filtered = filterEventStream(text, filter);
  else if (mediaType === "application/json" || mediaType?.endsWith("+json")) filtered = filterJsonText(text, filter);
  // An error page (go-sdk's 404 "session not found" is text/plain): its status tells the client what to do.
  else if (!isSuccess(response.status)) return { body: undefined, removed: [] };
  else throw new UnfilterableList(UNFILTERABLE, `the response to a list request has the content type ${response.contentType === undefined ? "none" : quoteText(response.contentType)}, which is neither JSON nor an event stream`);
  return { body: filtered, removed: filter.removed };
}

/** The plugin whose log lines these are. */
export const LIST_FILTER_PLUGIN = "mcp-oauth2-list-filter";
/** Items named in one log line; the rest are counted. */
const MAX_LOGGED_ITEMS = 10;
const MAX_LOGGED_NAME = 100;

function describeRemovedItems(removed: readonly RemovedItem[]): string {
  const shown = removed.slice(0, MAX_LOGGED_ITEMS).map(({ method, name }) => `${method} ${shortenText(name, MAX_LOGGED_NAME)}`);
  return removed.length > MAX_LOGGED_ITEMS ? `${shown.join(", ")} and ${removed.length - MAX_LOGGED_ITEMS} more` : shown.join(", ");
}

/** The upstream response as Kong's response phase hands it over, read lazily: each fact is a PDK round trip. */
export interface ResponseSource {
  status(): Promise<number>;
  header(name: string): Promise<string | undefined>;
  body(): Promise<Uint8Array>;
}

/**
 * What the list filter does with a response: let Kong send it (nothing to filter), or answer
 * with a status and a body (Kong keeps the upstream's headers and counts the Content-Length).
 */
export type ListDecision =
  | { readonly kind: "pass" }
  | { readonly kind: "respond"; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array | string; readonly log?: OperatorLog };

/** A notice of what a dry run would have done instead of letting the response through. */
function logDryRun(message: string): OperatorLog {
  return formatOperatorLog("notice", `dry run: ${message}`, LIST_FILTER_PLUGIN);
}

/**
 * The list filter's one decision for a buffered response: with a listing from mcp-oauth2 in
 * `shared`, the response again, without the items the token may not see; a 500 when mcp-oauth2 did
 * not let the request through, a 502 when the response cannot be read. A dry run answers with the
 * response unchanged and logs what it would have removed or refused: it filters nothing, so an
 * unreadable list shows no more than a readable one. Never throws.
 */
export async function decideListResponse(shared: unknown, response: ResponseSource): Promise<ListDecision> {
  try {
    const ofRequest = readSharedListing(shared);
    if (ofRequest === undefined) return { kind: "pass" };
    const buffered = { status: await response.status(), contentType: await response.header("Content-Type"), contentEncoding: await response.header("Content-Encoding"), body: await response.body() };
    const unchanged: ListDecision = { kind: "respond", status: buffered.status, headers: {}, body: buffered.body };
    let filtered: FilteredResponse;
    try {
      filtered = filterListResponse(ofRequest.listing, buffered);
    } catch (error) {
      if (!(error instanceof UnfilterableList && ofRequest.listing.dry_run)) throw error;
      return { ...unchanged, log: logDryRun(`would refuse ${error.status}: ${error.detail}`) };
    }
    const { body, removed } = filtered;
    if (!ofRequest.listing.dry_run || removed.length === 0) return { ...unchanged, body: body ?? buffered.body };
    return { ...unchanged, log: logDryRun(`would remove from the lists of ${ofRequest.holder}: ${describeRemovedItems(removed)}`) };
  } catch (error) {
    const refusal = toRefusal(error);
    return { kind: "respond", ...renderRefusal(refusal, {}), log: formatOperatorLog(refusal.logLevel ?? "err", refusal.detail, LIST_FILTER_PLUGIN) };
  }
}
