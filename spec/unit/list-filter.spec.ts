import { expect } from "chai";
import { readJsonRpcBody } from "../../plugins/mcp-oauth2/core/json-rpc-calls";
import { describeListing, filterListResponse, readSharedListing, type SharedListing } from "../../plugins/mcp-oauth2/core/list-filter";
import { compileMethodAcl } from "../../plugins/mcp-oauth2/core/method-acl";
import { GateFailure, UnfilterableList } from "../../plugins/mcp-oauth2/core/refusals";

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

const TOOLS_ONLY: SharedListing = {
  grants: { "tools/call": ["weather_*", "math_*"], "prompts/get": "all", "resources/read": ["docs://*", "https://docs.example.com/public/*"] },
  requests: [{ id: 1, method: "tools/list" }],
  dry_run: false,
};

const tool = (name: string) => ({ name, inputSchema: { type: "object" } });

function filterJson(listing: SharedListing, body: string, contentType: string | undefined = "application/json") {
  return filterListResponse(listing, { contentType, contentEncoding: undefined, body: Buffer.from(body) });
}

function expectUnfilterable(action: () => unknown, detail: string): void {
  expect(action).to.throw(UnfilterableList).with.property("detail", detail);
}

describe("list-filter", () => {
  describe("describeListing (what mcp-oauth2 hands the list filter)", () => {
    it("describes the item grants of the token, exactly as the ACL decides, and the body's list requests", () => {
      expect(describeListing(acl, ["mcp:tools"], bodyOf(listRequest("tools/list", 7)), false)).to.deep.equal({
        grants: { "tools/call": ["weather_*", "math_*"], "prompts/get": "all", "resources/read": [] },
        requests: [{ id: 7, method: "tools/list" }],
        dry_run: false,
      });
      expect(describeListing(acl, ["mcp:all"], bodyOf(listRequest("resources/list", "r"), listRequest("ping", 2)), true)).to.deep.equal({
        grants: { "tools/call": ["weather_*", "math_*"], "prompts/get": "all", "resources/read": ["docs://*", "https://docs.example.com/public/*"] },
        requests: [{ id: "r", method: "resources/list" }],
        dry_run: true,
      });
    });

    it("has nothing to hand over when the body lists nothing, or only what the token may see whole", () => {
      expect(describeListing(acl, ["mcp:tools"], undefined, false)).to.equal(undefined);
      expect(describeListing(acl, ["mcp:tools"], bodyOf(listRequest("ping")), false)).to.equal(undefined);
      expect(describeListing(acl, ["mcp:tools"], bodyOf(listRequest("prompts/list")), false)).to.equal(undefined);
      expect(describeListing(acl, ["mcp:admin"], bodyOf(listRequest("tools/list")), false)).to.equal(undefined);
    });

    it("still hands over a listing for list calls it cannot answer by id, so their response stays buffered and checked", () => {
      const odd = readJsonRpcBody(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: null, method: "tools/list" })));
      expect(describeListing(acl, ["mcp:tools"], odd, false)?.requests).to.deep.equal([]);
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
      const broken = [{ ...TOOLS_ONLY, grants: { ...TOOLS_ONLY.grants, "tools/call": "some" } }, { ...TOOLS_ONLY, requests: [{ id: null, method: "tools/list" }] }, { ...TOOLS_ONLY, dry_run: "no" }, "listing"];
      for (const listing of broken) expect(() => readSharedListing({ ...shared, listing })).to.throw(GateFailure).with.property("detail").that.includes("is not what mcp-oauth2 writes");
    });
  });

  describe("filterListResponse: JSON bodies", () => {
    it("keeps only the tools the token may call, the cursor and everything else of the message", () => {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("weather_now"), tool("admin_wipe"), tool("math_add"), { description: "no name" }], nextCursor: "page-2" } });
      expect(filterJson(TOOLS_ONLY, `\n ${body} \n`)).to.deep.equal({
        body: `\n ${JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("weather_now"), tool("math_add")], nextCursor: "page-2" } })} \n`,
        removed: [
          { method: "tools/list", name: "admin_wipe" },
          { method: "tools/list", name: '{"description":"no name"}' },
        ],
      });
    });

    it("leaves a body whose every item may be called as the upstream sent it", () => {
      const body = `{ "jsonrpc": "2.0", "id": 1, "result": { "tools": [ { "name": "weather_now" } ] } }`;
      expect(filterJson(TOOLS_ONLY, body)).to.deep.equal({ body: undefined, removed: [] });
    });

    it("serializes again only the messages of a batch it changes", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ id: "t", method: "tools/list" }, { id: 2, method: "prompts/list" }] };
      const untouched = ['{ "jsonrpc" : "2.0", "id" : 2, "result" : { "prompts" : [ { "name" : "secret" } ] } }', '{"jsonrpc":"2.0","id":3,"result":{}}'];
      const body = `[${untouched[0]},\n  {"jsonrpc":"2.0","id":"t","result":{"tools":[{"name":"admin_wipe"},{"name":"math_add"}]}} , ${untouched[1]}]`;
      expect(filterJson(listing, body).body).to.equal(`[${untouched[0]},\n  {"jsonrpc":"2.0","id":"t","result":{"tools":[{"name":"math_add"}]}} , ${untouched[1]}]`);
    });

    it("judges resources as resources/read does: the URI as sent and as resolved, refusing what the gate refuses to read", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ id: 1, method: "resources/list" }] };
      const uris = ["docs://readme", "config://app", "https://docs.example.com/public/a", "HTTPS://docs.example.com/public/b", "https://docs.example.com:443/public/c", "docs://x/../../config", "docs://a%2e%2e"];
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { resources: uris.map((uri) => ({ uri, name: uri })) } });
      const { body: filtered } = filterJson(listing, body);
      expect((JSON.parse(filtered!) as { result: { resources: { uri: string }[] } }).result.resources.map(({ uri }) => uri)).to.deep.equal(["docs://readme", "https://docs.example.com/public/a"]);
    });

    it("keeps a resource template when a resources/read glob matches it as written", () => {
      const listing: SharedListing = { ...TOOLS_ONLY, requests: [{ id: 1, method: "resources/templates/list" }] };
      const templates = ["docs://{path}", "https://docs.example.com/public/{file}", "https://docs.example.com/{file}", "file:///{path}"];
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { resourceTemplates: templates.map((uriTemplate) => ({ uriTemplate, name: uriTemplate })) } });
      const { body: filtered } = filterJson(listing, body);
      expect((JSON.parse(filtered!) as { result: { resourceTemplates: { uriTemplate: string }[] } }).result.resourceTemplates.map(({ uriTemplate }) => uriTemplate)).to.deep.equal(templates.slice(0, 2));
    });

    it("matches responses to requests by id, type included, and leaves errors and other results alone", () => {
      const body = JSON.stringify([
        { jsonrpc: "2.0", id: "1", result: { content: [] } },
        { jsonrpc: "2.0", id: 1, error: { code: -32603, message: "failed" } },
        { jsonrpc: "2.0", method: "notifications/tools/list_changed" },
      ]);
      expect(filterJson(TOOLS_ONLY, body)).to.deep.equal({ body: undefined, removed: [] });
    });

    it("passes bodies MCP clients do not read as messages, and an empty body", () => {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("admin_wipe")] } });
      for (const contentType of ["text/plain", "text/html; charset=utf-8"]) expect(filterJson(TOOLS_ONLY, body, contentType).body).to.equal(undefined);
      expect(filterListResponse(TOOLS_ONLY, { contentType: undefined, contentEncoding: undefined, body: Buffer.from(body) }).body).to.equal(undefined);
      expect(filterJson(TOOLS_ONLY, " \r\n")).to.deep.equal({ body: undefined, removed: [] });
      expect(filterJson(TOOLS_ONLY, body, "Application/Vnd.Example+JSON; charset=utf-8").removed).to.have.length(1);
    });

    it("removes nothing in a dry run, and says what it would have removed", () => {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("admin_wipe"), tool("weather_now")] } });
      expect(filterJson({ ...TOOLS_ONLY, dry_run: true }, body)).to.deep.equal({ body: undefined, removed: [{ method: "tools/list", name: "admin_wipe" }] });
    });

    it("refuses what it cannot read: not JSON, compressed, a list response without its list, a list under an id nobody asked", () => {
      expectUnfilterable(() => filterJson(TOOLS_ONLY, '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}'), "the response to a list request is not valid JSON");
      const compressed = { contentType: "application/json", contentEncoding: "gzip", body: Buffer.from("\x1f\x8b") };
      expectUnfilterable(() => filterListResponse(TOOLS_ONLY, compressed), 'the response to a list request is compressed (Content-Encoding "gzip")');
      expectUnfilterable(() => filterJson(TOOLS_ONLY, '{"jsonrpc":"2.0","id":1,"result":{}}'), 'the response to tools/list (id "1") has no tools array');
      expectUnfilterable(() => filterJson(TOOLS_ONLY, '{"jsonrpc":"2.0","id":1,"result":null}'), 'the response to tools/list (id "1") has no tools array');
      expectUnfilterable(() => filterJson(TOOLS_ONLY, '{"jsonrpc":"2.0","id":null,"result":{"prompts":[]}}'), 'a result with a list answers id "null", which no list request of the body has');
    });

    it("reads the body as clients do: a byte order mark, kept; invalid UTF-8 replaced", () => {
      const body = Buffer.concat([Buffer.from("\ufeff"), Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("admin_\xff"), tool("math_add")] } }), "latin1")]);
      const { body: filtered } = filterListResponse(TOOLS_ONLY, { contentType: "application/json", contentEncoding: "identity", body });
      expect(filtered).to.equal(`\ufeff${JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("math_add")] } })}`);
    });
  });

  describe("filterListResponse: SSE bodies", () => {
    const stream = (...lines: string[]) => lines.join("\n");
    const filterStream = (body: string, listing = TOOLS_ONLY) => filterListResponse(listing, { contentType: "text/event-stream", contentEncoding: undefined, body: Buffer.from(body) });
    const listed = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("admin_wipe"), tool("weather_now")], nextCursor: "c" } });
    const filtered = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [tool("weather_now")], nextCursor: "c" } });

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

    it("leaves events of other types alone: MCP clients ignore them", () => {
      expect(filterStream(stream("event: endpoint", `data: ${listed}`, "", "")).body).to.equal(undefined);
    });

    it("refuses a message event whose data is not JSON", () => {
      expectUnfilterable(() => filterStream(stream("data: {", "", "")), "the response to a list request is not valid JSON");
    });
  });
});
