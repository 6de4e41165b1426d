import { expect } from "chai";
import { readJsonRpcBody } from "../../plugins/mcp-oauth2/core/json-rpc-calls";
import { decideListResponse, describeListing, MAX_LIST_REQUESTS, filterListResponse, readSharedListing, seesEveryListWhole, type ResponseSource, type SharedListing } from "../../plugins/mcp-oauth2/core/list-filter";
import { compileMethodAcl } from "../../plugins/mcp-oauth2/core/method-acl";
import { GateFailure, InvalidJsonRpc, UnfilterableList } from "../../plugins/mcp-oauth2/core/refusals";

const acl = compileMethodAcl(
  [
    { scope: "mcp:tools", methods: ["tools/list", "tools/call:weather_*", "tools/call:math_*", "prompts/*"] },
    { scope: "mcp:docs", methods: ["resources/list", "resources/templates/list", "resources/read:docs://*", "resources/read:https://docs.example.com/public/*"] },
    { scope: "mcp:admin", methods: ["tools/*"] },
  ],
  [{ scope: "mcp:all", implies: ["mcp:tools", "mcp:docs"] }],
  ["initialize"],
);

function bodyOf(...messages: object[]) {
  return readJsonRpcBody(Buffer.from(JSON.stringify(messages.length === 1 ? messages[0] : messages)));
}

function listRequest(method: string, id: string | number = 1) {
  return { jsonrpc: "2.0", id, method, params: {} };
}

/** The id the upstream answers the list request under, as JSON text: the gateway's. */
const GATEWAY_ID = '"mcp-oauth2-gateway"';

const TOOLS_ONLY: SharedListing = {
  grants: { "tools/call": ["weather_*", "math_*"], "prompts/get": "all", "resources/read": ["docs://*", "https://docs.example.com/public/*"] },
  requests: [{ method: "tools/list", answered_as: GATEWAY_ID, asked_as: "1" }],
  dry_run: false,
};

const tool = (name: string) => ({ name, inputSchema: { type: "object" } });

/** A list response from the upstream: under the gateway's id unless told otherwise. */
function listResponse(result: object, id: unknown = JSON.parse(GATEWAY_ID)): string {
  return JSON.stringify({ jsonrpc: "2.0", id, result });
}

function filterJson(listing: SharedListing, body: string, contentType: string | undefined = "application/json") {
  return filterListResponse(listing, { status: 200, contentType, contentEncoding: undefined, body: Buffer.from(body) });
}

function expectUnfilterable(action: () => unknown, detail: string): void {
  expect(action).to.throw(UnfilterableList).with.property("detail", detail);
}

describe("list-filter", () => {
  describe("describeListing (what mcp-oauth2 hands the list filter, and sends upstream)", () => {
    const GATEWAY_ID_TEXT = /^"mcp-oauth2-[A-Za-z0-9_-]{22}"$/;

    it("describes the item grants of the token, exactly as the ACL decides, and gives each list request an id of the gateway's", () => {
      const text = `[{"jsonrpc":"2.0","id":7,"method":"tools/list"}, {"jsonrpc":"2.0","id":"p","method":"prompts/list","params":{"id":7}}, {"jsonrpc":"2.0","id":7,"method":"ping"}]`;
      const described = describeListing(acl, ["mcp:tools"], readJsonRpcBody(Buffer.from(text)), false)!;
      expect(described.listing.grants).to.deep.equal({ "tools/call": ["weather_*", "math_*"], "prompts/get": "all", "resources/read": [] });
      const [tools, prompts] = described.listing.requests;
      expect([tools?.method, tools?.asked_as, prompts?.method, prompts?.asked_as, described.listing.requests.length]).to.deep.equal(["tools/list", "7", "prompts/list", '"p"', 2]);
      expect(tools?.answered_as).to.match(GATEWAY_ID_TEXT);
      expect(prompts?.answered_as).to.match(GATEWAY_ID_TEXT).and.not.equal(tools?.answered_as);
      expect(described.upstreamBody).to.equal(
        `[{"jsonrpc":"2.0","id":${tools?.answered_as},"method":"tools/list"}, {"jsonrpc":"2.0","id":${prompts?.answered_as},"method":"prompts/list","params":{"id":7}}, {"jsonrpc":"2.0","id":7,"method":"ping"}]`,
      );
      expect(describeListing(acl, ["mcp:tools"], readJsonRpcBody(Buffer.from(text)), false)!.listing.requests[0]?.answered_as, "a new id each time").not.to.equal(tools?.answered_as);
    });

    it("changes nothing in a dry run: the upstream answers under the client's id", () => {
      expect(describeListing(acl, ["mcp:all"], bodyOf(listRequest("resources/list", "r"), listRequest("ping", 2)), true)).to.deep.equal({
        listing: {
          grants: { "tools/call": ["weather_*", "math_*"], "prompts/get": "all", "resources/read": ["docs://*", "https://docs.example.com/public/*"] },
          requests: [{ method: "resources/list", answered_as: '"r"', asked_as: '"r"' }],
          dry_run: true,
        },
        upstreamBody: undefined,
      });
    });

    it("has nothing to hand over when the body lists nothing, or only what the token may see whole", () => {
      expect(describeListing(acl, ["mcp:tools"], undefined, false)).to.equal(undefined);
      expect(describeListing(acl, ["mcp:tools"], bodyOf(listRequest("ping")), false)).to.equal(undefined);
      expect(describeListing(acl, ["mcp:tools"], bodyOf(listRequest("prompts/list")), false)).to.equal(undefined);
      expect(describeListing(acl, ["mcp:admin"], bodyOf(listRequest("tools/list")), false)).to.equal(undefined);
    });

    it("gives a list request with any id the gateway's, and keeps a listing for a list notification, whose response stays buffered", () => {
      const odd = readJsonRpcBody(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: null, method: "tools/list" })));
      expect(describeListing(acl, ["mcp:tools"], odd, false)?.listing.requests.map(({ asked_as }) => asked_as)).to.deep.equal(["null"]);
      const notification = readJsonRpcBody(Buffer.from(JSON.stringify({ jsonrpc: "2.0", method: "tools/list" })));
      expect(describeListing(acl, ["mcp:tools"], notification, false)).to.deep.equal({ listing: { ...TOOLS_ONLY, grants: { ...TOOLS_ONLY.grants, "resources/read": [] }, requests: [] }, upstreamBody: notification.text });
    });

    it(`refuses a body of more than ${MAX_LIST_REQUESTS} list requests (400, -32600), before any id is chosen`, () => {
      const lists = (count: number) => readJsonRpcBody(Buffer.from(JSON.stringify(Array.from({ length: count }, (_, id) => listRequest("tools/list", id)))));
      expect(describeListing(acl, ["mcp:tools"], lists(MAX_LIST_REQUESTS), false)?.listing.requests).to.have.length(MAX_LIST_REQUESTS);
      const refusal = expect(() => describeListing(acl, ["mcp:admin"], lists(MAX_LIST_REQUESTS + 1), false)).to.throw(InvalidJsonRpc);
      refusal.with.property("description", "a body may carry at most 64 list requests");
      refusal.with.property("jsonRpcCode", -32600);
    });

    it("tells which tokens see every list whole", () => {
      expect([seesEveryListWhole(acl, ["mcp:admin"]), seesEveryListWhole(acl, ["mcp:all", "mcp:admin"]), seesEveryListWhole(acl, ["mcp:tools"]), seesEveryListWhole(acl, [])]).to.deep.equal([false, false, false, false]);
      const open = compileMethodAcl([{ scope: "mcp:root", methods: ["*"] }, { scope: "mcp:lists", methods: ["tools/*", "prompts/*", "resources/read"] }], [], []);
      expect([seesEveryListWhole(open, ["mcp:root"]), seesEveryListWhole(open, ["mcp:lists"]), seesEveryListWhole(open, [])]).to.deep.equal([true, true, false]);
    });
  });

  describe("readSharedListing (what the list filter finds in kong.ctx.shared)", () => {
    const shared = { subject: "alice", issuer: "https://as", scopes: ["mcp:tools"], filter_lists: true, listing: TOOLS_ONLY };

    it("reads the listing and whose token it is", () => {
      expect(readSharedListing(shared)).to.deep.equal({ listing: TOOLS_ONLY, holder: "alice" });
      expect(readSharedListing({ ...shared, subject: undefined, client_id: "machine" })?.holder).to.equal("machine");
    });

    it("reads empty arrays as Kong's Lua hands them back ({})", () => {
      const listing = { ...TOOLS_ONLY, grants: { ...TOOLS_ONLY.grants, "resources/read": {} }, requests: {} };
      expect(readSharedListing({ ...shared, listing })?.listing).to.deep.equal({ ...TOOLS_ONLY, grants: { ...TOOLS_ONLY.grants, "resources/read": [] }, requests: [] });
    });

    it("has nothing to filter without a listing, and for a preflight", () => {
      expect(readSharedListing({ ...shared, listing: undefined })).to.equal(undefined);
      expect(readSharedListing({ preflight: true })).to.equal(undefined);
    });

    it("refuses when mcp-oauth2 did not let the request through, or the listing is not what it writes", () => {
      expect(() => readSharedListing(undefined)).to.throw(GateFailure).with.property("detail").that.includes("mcp-oauth2 did not let this request through");
      expect(() => readSharedListing({ ...shared, filter_lists: undefined, listing: undefined })).to.throw(GateFailure).with.property("detail", "mcp-oauth2 on this route hands over no listings: turn its filter_lists on");
      const broken = [{ ...TOOLS_ONLY, grants: { ...TOOLS_ONLY.grants, "tools/call": "some" } }, { ...TOOLS_ONLY, requests: [{ method: "tools/list", answered_as: GATEWAY_ID }] }, { ...TOOLS_ONLY, requests: [{ method: "ping", answered_as: GATEWAY_ID, asked_as: "1" }] },
        { ...TOOLS_ONLY, requests: [{ method: "tools/list", answered_as: 5, asked_as: "1" }] }, { ...TOOLS_ONLY, requests: [...TOOLS_ONLY.requests, "tools/list"] }, { ...TOOLS_ONLY, requests: { tools: 1 } },
        { ...TOOLS_ONLY, grants: { ...TOOLS_ONLY.grants, "tools/call": { weather: 1 } } }, { ...TOOLS_ONLY, grants: { ...TOOLS_ONLY.grants, "tools/call": ["weather_*", 5] } }, { ...TOOLS_ONLY, grants: "all" }, null, { ...TOOLS_ONLY, dry_run: "no" }, "listing"];
      for (const listing of broken) expect(() => readSharedListing({ ...shared, listing })).to.throw(GateFailure).with.property("detail").that.includes("is not what mcp-oauth2 writes");
    });
  });

  describe("filterListResponse: JSON bodies", () => {
    it("keeps only the tools the token may call, the cursor and everything else of the message, under the client's id", () => {
      const body = listResponse({ tools: [tool("weather_now"), tool("admin_wipe"), tool("math_add"), { description: "no name" }], nextCursor: "page-2" });
      expect(filterJson(TOOLS_ONLY, `\n ${body} \n`)).to.deep.equal({
        body: `\n ${listResponse({ tools: [tool("weather_now"), tool("math_add")], nextCursor: "page-2" }, 1)} \n`,
        removed: [
          { method: "tools/list", name: "admin_wipe" },
          { method: "tools/list", name: '{"description":"no name"}' },
        ],
      });
    });

    it("puts back the client's id exactly as it was written, every other byte of a list it leaves whole as the upstream sent it", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ method: "tools/list", answered_as: GATEWAY_ID, asked_as: "12345678901234567890" }] };
      const body = `{ "jsonrpc": "2.0", "id" : ${GATEWAY_ID} , "result": { "tools": [ { "name": "weather_now", "n": 1.0 } ] } }`;
      expect(filterJson(listing, body)).to.deep.equal({ body: body.replace(GATEWAY_ID, "12345678901234567890"), removed: [] });
    });

    it("writes again only the messages of a batch that answer list requests", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ method: "tools/list", answered_as: '"gw-t"', asked_as: '"t"' }, { method: "prompts/list", answered_as: '"gw-2"', asked_as: "2" }] };
      const untouched = '{"jsonrpc":"2.0","id":3,"result":{}}';
      const body = `[{ "jsonrpc" : "2.0", "id" : "gw-2", "result" : { "prompts" : [ { "name" : "secret" } ] } },\n  {"jsonrpc":"2.0","id":"gw-t","result":{"tools":[{"name":"admin_wipe"},{"name":"math_add"}]}} , ${untouched}]`;
      expect(filterJson(listing, body).body).to.equal(
        `[{ "jsonrpc" : "2.0", "id" : 2, "result" : { "prompts" : [ { "name" : "secret" } ] } },\n  {"jsonrpc":"2.0","id":"t","result":{"tools":[{"name":"math_add"}]}} , ${untouched}]`,
      );
    });

    it("judges resources as resources/read does: the URI as sent and as resolved, refusing what the gate refuses to read", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ method: "resources/list", answered_as: GATEWAY_ID, asked_as: "1" }] };
      const uris = ["docs://readme", "config://app", "https://docs.example.com/public/a", "HTTPS://docs.example.com/public/b", "https://docs.example.com:443/public/c", "docs://x/../../config", "docs://a%2e%2e"];
      const { body: filtered } = filterJson(listing, listResponse({ resources: uris.map((uri) => ({ uri, name: uri })) }));
      expect((JSON.parse(filtered!) as { result: { resources: { uri: string }[] } }).result.resources.map(({ uri }) => uri)).to.deep.equal(["docs://readme", "https://docs.example.com/public/a"]);
    });

    it("keeps a resource template when a resources/read glob matches it as written", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ method: "resources/templates/list", answered_as: GATEWAY_ID, asked_as: "1" }] };
      const templates = ["docs://{path}", "https://docs.example.com/public/{file}", "https://docs.example.com/{file}", "file:///{path}"];
      const { body: filtered } = filterJson(listing, listResponse({ resourceTemplates: templates.map((uriTemplate) => ({ uriTemplate, name: uriTemplate })) }));
      expect((JSON.parse(filtered!) as { result: { resourceTemplates: { uriTemplate: string }[] } }).result.resourceTemplates.map(({ uriTemplate }) => uriTemplate)).to.deep.equal(templates.slice(0, 2));
    });

    it("leaves alone every message that answers no list request of the body, whatever its result holds", () => {
      const body = JSON.stringify([
        { jsonrpc: "2.0", id: 1, result: { tools: [tool("admin_wipe")] } },
        { jsonrpc: "2.0", id: "mcp-oauth2-other", result: { tools: [tool("admin_wipe")] } },
        { jsonrpc: "2.0", id: 2, result: { content: [], prompts: [] } },
        { jsonrpc: "2.0", method: "notifications/tools/list_changed" },
      ]);
      expect(filterJson(TOOLS_ONLY, body)).to.deep.equal({ body: undefined, removed: [] });
    });

    it("puts the client's id back into an error answering the list request", () => {
      const error = { code: -32603, message: "failed" };
      expect(filterJson(TOOLS_ONLY, JSON.stringify({ jsonrpc: "2.0", id: JSON.parse(GATEWAY_ID), error })).body).to.equal(JSON.stringify({ jsonrpc: "2.0", id: 1, error }));
    });

    it("reads JSON and +json bodies, passes an empty one, and refuses other media types, which lenient clients may still read", () => {
      const body = listResponse({ tools: [tool("admin_wipe")] });
      expect(filterJson(TOOLS_ONLY, body, "Application/Vnd.Example+JSON; charset=utf-8").removed).to.have.length(1);
      expect(filterJson(TOOLS_ONLY, "", "text/plain")).to.deep.equal({ body: undefined, removed: [] });
      for (const contentType of ["text/plain", "text/html; charset=utf-8", "application/json-rpc", "text/event-streamx", '"application/json"', "application/json, text/event-stream"]) {
        expectUnfilterable(() => filterJson(TOOLS_ONLY, body, contentType), `the response to a list request has the content type ${JSON.stringify(contentType)}, which is neither JSON nor an event stream`);
      }
      expectUnfilterable(() => filterListResponse(TOOLS_ONLY, { status: 200, contentType: undefined, contentEncoding: undefined, body: Buffer.from(body) }), "the response to a list request has the content type none, which is neither JSON nor an event stream");
      expectUnfilterable(() => filterListResponse(TOOLS_ONLY, { status: 299, contentType: "text/plain", contentEncoding: undefined, body: Buffer.from(body) }), 'the response to a list request has the content type "text/plain", which is neither JSON nor an event stream');
    });

    it("passes an error page of another media type: its status tells the client what to do (go-sdk's 404 for an unknown session)", () => {
      for (const status of [199, 300, 404, 500]) {
        expect(filterListResponse(TOOLS_ONLY, { status, contentType: "text/plain; charset=utf-8", contentEncoding: undefined, body: Buffer.from("session not found\n") }), String(status)).to.deep.equal({ body: undefined, removed: [] });
      }
    });

    it("removes nothing and changes nothing in a dry run, and says what it would have removed", () => {
      const dryRun: SharedListing = { ...TOOLS_ONLY, requests: [{ method: "tools/list", answered_as: "1", asked_as: "1" }], dry_run: true };
      const body = listResponse({ tools: [tool("admin_wipe"), tool("weather_now")] }, 1);
      expect(filterJson(dryRun, body)).to.deep.equal({ body: undefined, removed: [{ method: "tools/list", name: "admin_wipe" }] });
    });

    it("refuses what it cannot read: not JSON, compressed, a list response without its list", () => {
      expectUnfilterable(() => filterJson(TOOLS_ONLY, '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}'), "the response to a list request is not valid JSON");
      const compressed = { status: 200, contentType: "application/json", contentEncoding: "gzip", body: Buffer.from("\x1f\x8b") };
      expectUnfilterable(() => filterListResponse(TOOLS_ONLY, compressed), 'the response to a list request is compressed (Content-Encoding "gzip")');
      expectUnfilterable(() => filterJson(TOOLS_ONLY, listResponse({})), 'the response to tools/list (id "1") has no tools array');
      expectUnfilterable(() => filterJson(TOOLS_ONLY, JSON.stringify({ jsonrpc: "2.0", id: JSON.parse(GATEWAY_ID), result: null })), 'the response to tools/list (id "1") has no tools array');
    });

    it("refuses member names a client may read as others: repeated, or folding onto another", () => {
      const id = GATEWAY_ID;
      const cases: Array<[string, string]> = [
        [`{"jsonrpc":"2.0","id":${id},"result":{"tools":[],"tools":[{"name":"admin_wipe"}]}}`, 'the response to a list request repeats the member name "tools"'],
        [`[{"jsonrpc":"2.0","id":2,"id":${id},"result":{"tools":[]}}]`, 'the response to a list request repeats the member name "id"'],
        [`{"jsonrpc":"2.0","id":${id},"result":{"tools":[{"name":"math_add","name":"admin_wipe"}]}}`, 'the response to a list request repeats the member name "name"'],
        [`{"jsonrpc":"2.0","id":${id},"result":{"tools":[],"Tools":[{"name":"admin_wipe"}]}}`, 'the result of tools/list has the member "Tools", which clients may read as another'],
        [`{"jsonrpc":"2.0","id":${id},"result":{"tools":[{"name":"math_add","NAME":"admin_wipe"}]}}`, 'an item of tools/list has the member "NAME", which clients may read as another'],
        [`{"jsonrpc":"2.0","ID":${id},"result":{"tools":[{"name":"admin_wipe"}]}}`, 'a response message has the member "ID", which clients may read as another'],
      ];
      for (const [body, detail] of cases) expectUnfilterable(() => filterJson(TOOLS_ONLY, body), detail);
    });

    it("passes a body of whitespace only", () => {
      expect(filterJson(TOOLS_ONLY, " \r\n\t")).to.deep.equal({ body: undefined, removed: [] });
    });

    it("does not read tool and prompt names as URIs", () => {
      const { body } = filterJson(TOOLS_ONLY, listResponse({ tools: [tool("math_a/../b"), tool("math_%2e")] }));
      expect(body).to.equal(listResponse({ tools: [tool("math_a/../b"), tool("math_%2e")] }, 1));
    });

    it("removes items that are not objects, and reads a batch around messages that are not objects", () => {
      const body = `[null, 5, ${listResponse({ tools: [null, "weather_now", 5, tool("weather_now")] })}]`;
      expect(filterJson(TOOLS_ONLY, body)).to.deep.equal({
        body: `[null, 5, ${listResponse({ tools: [tool("weather_now")] }, 1)}]`,
        removed: [
          { method: "tools/list", name: "null" },
          { method: "tools/list", name: '"weather_now"' },
          { method: "tools/list", name: "5" },
        ],
      });
    });

    it("reads Content-Encoding as clients do: identity in any case and spacing, anything else refused", () => {
      const body = Buffer.from(listResponse({ tools: [tool("admin_wipe")] }));
      expect(filterListResponse(TOOLS_ONLY, { status: 200, contentType: "application/json", contentEncoding: " Identity ", body }).removed).to.have.length(1);
      expectUnfilterable(() => filterListResponse(TOOLS_ONLY, { status: 200, contentType: "application/json", contentEncoding: " GZIP ", body }), 'the response to a list request is compressed (Content-Encoding "gzip")');
    });

    it("reads the body as clients do: a byte order mark, kept; invalid UTF-8 replaced", () => {
      const body = Buffer.concat([Buffer.from("\ufeff"), Buffer.from(listResponse({ tools: [tool("admin_\xff"), tool("math_add")] }), "latin1")]);
      const { body: filtered } = filterListResponse(TOOLS_ONLY, { status: 200, contentType: "application/json", contentEncoding: "identity", body });
      expect(filtered).to.equal(`\ufeff${listResponse({ tools: [tool("math_add")] }, 1)}`);
    });
  });

  describe("filterListResponse: SSE bodies", () => {
    const stream = (...lines: string[]) => lines.join("\n");
    const filterStream = (body: string, listing = TOOLS_ONLY) => filterListResponse(listing, { status: 200, contentType: "text/event-stream", contentEncoding: undefined, body: Buffer.from(body) });
    const listed = listResponse({ tools: [tool("admin_wipe"), tool("weather_now")], nextCursor: "c" });
    const filtered = listResponse({ tools: [tool("weather_now")], nextCursor: "c" }, 1);

    it("replaces the data of the event that answers the list, keeping its other fields and every other event", () => {
      const progress = JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } });
      const body = stream(": comment", "", "id: 0", "data:", "", `event: message`, `data: ${progress}`, "", "event: message", "id: 7", `data: ${listed}`, "retry: 10", "", "");
      expect(filterStream(body).body).to.equal(stream(": comment", "", "id: 0", "data:", "", "event: message", `data: ${progress}`, "", "event: message", "id: 7", `data: ${filtered}`, "retry: 10", "", ""));
    });

    it("keeps CRLF and CR line ends, joins data split over several lines, and filters an event the stream ends without a blank line", () => {
      const split = listed.replace('"result":', '"result":\n');
      const [first, second] = split.split("\n");
      expect(filterStream(`id: 1\r\ndata:${first}\r\ndata: ${second}\r\n\r\n`).body).to.equal(`id: 1\r\ndata: ${filtered}\r\n\r\n`);
      expect(filterStream(`data: ${listed}\r\r`).body).to.equal(`data: ${filtered}\r\r`);
      expect(filterStream(`data: ${listed}`).body).to.equal(`data: ${filtered}`);
    });

    it("keeps kept messages' own line breaks in a batch, one data line each", () => {
      const batch = `[{"jsonrpc":"2.0","id":2,\n"result":{}},${listed}]`;
      const [first, second] = batch.split("\n");
      expect(filterStream(stream(`data: ${first}`, `data: ${second}`, "", "")).body).to.equal(stream(`data: [{"jsonrpc":"2.0","id":2,`, `data: "result":{}},${filtered}]`, "", ""));
    });

    it("leaves events of other types alone: MCP clients ignore them; the next event is a message again", () => {
      expect(filterStream(stream("event: endpoint", `data: ${listed}`, "", "")).body).to.equal(undefined);
      expect(filterStream(stream("event: endpoint", "data: /x", "", `data: ${listed}`, "", "")).body).to.equal(stream("event: endpoint", "data: /x", "", `data: ${filtered}`, "", ""));
    });

    it("writes a client's id holding a raw CR or LF (JSON whitespace) back over several data lines", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ method: "tools/list", answered_as: GATEWAY_ID, asked_as: "[1,\r2,\n3]" }] };
      const restored = listResponse({ tools: [tool("weather_now")], nextCursor: "c" }, 1).replace('"id":1', '"id":[1,\r2,\n3]');
      const [first, second, third] = restored.split(/[\r\n]/);
      expect(filterStream(`data: ${listed}\r\n\r\n`, listing).body).to.equal(`data: ${first}\r\ndata: ${second}\r\ndata: ${third}\r\n\r\n`);
    });

    it("keeps a byte order mark, and reads a bare `data` line as an empty line of data", () => {
      expect(filterStream(`\ufeffdata: ${listed}\n\n`).body).to.equal(`\ufeffdata: ${filtered}\n\n`);
      expect(filterStream(stream("data", `data: ${listed}`, "", "")).body).to.equal(stream("data: ", `data: ${filtered}`, "", ""));
    });

    it("refuses a message event whose data is not JSON", () => {
      expectUnfilterable(() => filterStream(stream("data: {", "", "")), "the response to a list request is not valid JSON");
    });
  });

  describe("decideListResponse (the list filter's one decision)", () => {
    const shared = (listing: SharedListing | undefined, holder: Record<string, string> = { subject: "alice" }) => ({ ...holder, issuer: "https://as", scopes: ["mcp:tools"], filter_lists: true, listing });

    /** The upstream's response, recording which facts the decision asked for. */
    function upstream(body: string, contentType = "application/json"): ResponseSource & { asked: string[] } {
      const asked: string[] = [];
      return {
        asked,
        status: async () => (asked.push("status"), 200),
        header: async (name) => (asked.push(name), name === "Content-Type" ? contentType : undefined),
        body: async () => (asked.push("body"), Buffer.from(body)),
      };
    }

    it("lets Kong send the response, without reading it, when there is nothing to filter", async () => {
      const response = upstream("{}");
      expect(await decideListResponse(shared(undefined), response)).to.deep.equal({ kind: "pass" });
      expect(await decideListResponse({ preflight: true }, response)).to.deep.equal({ kind: "pass" });
      expect(response.asked).to.deep.equal([]);
    });

    it("answers with the filtered body and the upstream's status", async () => {
      const response = upstream(listResponse({ tools: [tool("admin_wipe"), tool("math_add")] }));
      expect(await decideListResponse(shared(TOOLS_ONLY), response)).to.deep.equal({ kind: "respond", status: 200, headers: {}, body: listResponse({ tools: [tool("math_add")] }, 1) });
      expect(response.asked).to.deep.equal(["status", "Content-Type", "Content-Encoding", "body"]);
    });

    it("answers with the body as it came when it answers no list request", async () => {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 9, result: {} });
      const decision = await decideListResponse(shared(TOOLS_ONLY), upstream(body));
      expect(decision.kind === "respond" && Buffer.from(decision.body).toString()).to.equal(body);
    });

    it("answers 502 with a JSON-RPC error to a list it cannot read, and 500 when mcp-oauth2 decided nothing, each with an operator log", async () => {
      expect(await decideListResponse(shared(TOOLS_ONLY), upstream("{}", "text/plain"))).to.deep.equal({
        kind: "respond",
        status: 502,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32603, message: "the list response could not be filtered" } }),
        log: { level: "err", message: 'mcp-oauth2-list-filter: the response to a list request has the content type "text/plain", which is neither JSON nor an event stream' },
      });
      expect(await decideListResponse(undefined, upstream("{}"))).to.deep.include({
        status: 500,
        log: { level: "err", message: "mcp-oauth2-list-filter: kong.ctx.shared.mcp_oauth2 is not set: mcp-oauth2 did not let this request through (is it on the route?)" },
      });
    });

    it("in a dry run answers with the body as it came, and logs at notice what it would have removed (ten names, then a count) or refused", async () => {
      const dryRun: SharedListing = { ...TOOLS_ONLY, requests: [{ method: "tools/list", answered_as: "1", asked_as: "1" }], dry_run: true };
      const names = Array.from({ length: 12 }, (_, index) => `admin_${index}`);
      const body = listResponse({ tools: [...names.map(tool), tool("math_add")] }, 1);
      expect(await decideListResponse(shared(dryRun, { client_id: "machine" }), upstream(body))).to.deep.equal({
        kind: "respond",
        status: 200,
        headers: {},
        body: Buffer.from(body),
        log: { level: "notice", message: `mcp-oauth2-list-filter: dry run: would remove from the lists of machine: ${names.slice(0, 10).map((name) => `tools/list ${name}`).join(", ")} and 2 more` },
      });
      expect(await decideListResponse(shared(dryRun, {}), upstream(listResponse({ tools: names.slice(0, 10).map(tool) }, 1)))).to.have.nested.property(
        "log.message",
        `mcp-oauth2-list-filter: dry run: would remove from the lists of unknown subject: ${names.slice(0, 10).map((name) => `tools/list ${name}`).join(", ")}`,
      );
      expect(await decideListResponse(shared(dryRun), upstream(body, "text/html"))).to.deep.include({
        status: 200,
        body: Buffer.from(body),
        log: { level: "notice", message: 'mcp-oauth2-list-filter: dry run: would refuse 502: the response to a list request has the content type "text/html", which is neither JSON nor an event stream' },
      });
      const whole = await decideListResponse(shared(dryRun), upstream(listResponse({ tools: [tool("math_add")] }, 1)));
      expect(whole).not.to.have.property("log");
    });
  });
});
