import { expect } from "chai";
import { readJsonRpcBody, type JsonRpcBody } from "../../plugins/mcp-oauth2/core/json-rpc-calls";
import { checkStandardHeaders, hasStandardHeaders } from "../../plugins/mcp-oauth2/core/mcp-standard-headers";
import { InvalidJsonRpc } from "../../plugins/mcp-oauth2/core/refusals";

/** Kong's header map: lower-case names, every value. */
function headerMap(headers: Record<string, string | string[]>): Map<string, string[]> {
  return new Map(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value : [value]]));
}

function bodyOf(message: unknown): JsonRpcBody {
  return readJsonRpcBody(Buffer.from(JSON.stringify(message)));
}

function call(method: string, params?: Record<string, unknown>): JsonRpcBody {
  return bodyOf({ jsonrpc: "2.0", id: 1, method, ...(params === undefined ? {} : { params }) });
}

/** The SEP-2243 sentinel form of a name: Base64 of its UTF-8 bytes. */
function encodeName(bytes: string | Buffer): string {
  return `=?base64?${Buffer.from(bytes).toString("base64")}?=`;
}

function expectMismatch(headers: Record<string, string | string[]>, body: JsonRpcBody | undefined, description: string): void {
  const thrown = expect(() => checkStandardHeaders(headerMap(headers), body)).to.throw(InvalidJsonRpc);
  thrown.with.property("description", description);
  thrown.with.property("jsonRpcCode", -32020);
  thrown.with.property("status", 400);
}

function expectAccepted(headers: Record<string, string | string[]>, body: JsonRpcBody): void {
  expect(() => checkStandardHeaders(headerMap(headers), body)).not.to.throw();
}

const ONE_REQUEST = "Mcp-Method and Mcp-Name describe one JSON-RPC request, not a batch or a response";
const NAME_MISMATCH = "Mcp-Name does not match params.name in the body";
const URI_MISMATCH = "Mcp-Name does not match params.uri in the body";

describe("mcp-standard-headers (MCP 2026-07-28, SEP-2243)", () => {
  it("refuses the headers on a request without a body: they would meter a call that never runs", () => {
    const noBody = "Mcp-Method and Mcp-Name describe a JSON-RPC request, and this request has no body";
    expectMismatch({ "mcp-method": "tools/call", "mcp-name": "admin_reset" }, undefined, noBody);
    expectMismatch({ "mcp-name": "admin_reset" }, undefined, noBody);
    expect(() => checkStandardHeaders(headerMap({ accept: "text/event-stream" }), undefined)).not.to.throw();
  });

  describe("hasStandardHeaders", () => {
    it("is true when Mcp-Method or Mcp-Name is present, false otherwise", () => {
      expect(hasStandardHeaders(headerMap({ "mcp-method": "tools/list" }))).to.equal(true);
      expect(hasStandardHeaders(headerMap({ "mcp-name": "weather" }))).to.equal(true);
      expect(hasStandardHeaders(headerMap({ "mcp-method": "", "mcp-name": "" }))).to.equal(true);
      expect(hasStandardHeaders(headerMap({ "content-type": "application/json", "mcp-protocol-version": "2026-07-28", "x-mcp-name": "a" }))).to.equal(false);
    });
  });

  describe("matching headers", () => {
    it("accepts a request without standard headers, batches and responses included", () => {
      expectAccepted({}, call("tools/call", { name: "weather" }));
      expectAccepted({}, bodyOf([{ jsonrpc: "2.0", id: 1, method: "ping" }, { jsonrpc: "2.0", id: 2, method: "tools/list" }]));
      expectAccepted({}, bodyOf({ jsonrpc: "2.0", id: 1, result: {} }));
    });

    it("accepts Mcp-Method equal to the method of a request or a notification", () => {
      expectAccepted({ "mcp-method": "tools/list" }, call("tools/list"));
      expectAccepted({ "mcp-method": "initialize" }, call("initialize", { protocolVersion: "2026-07-28" }));
      expectAccepted({ "mcp-method": "notifications/initialized" }, bodyOf({ jsonrpc: "2.0", method: "notifications/initialized" }));
    });

    it("accepts Mcp-Name equal to params.name (tools/call, prompts/get) or params.uri (resources/read, subscribe, unsubscribe)", () => {
      expectAccepted({ "mcp-method": "tools/call", "mcp-name": "get_weather" }, call("tools/call", { name: "get_weather", arguments: { city: "Oslo" } }));
      expectAccepted({ "mcp-method": "prompts/get", "mcp-name": "summary" }, call("prompts/get", { name: "summary" }));
      for (const method of ["resources/read", "resources/subscribe", "resources/unsubscribe"]) {
        expectAccepted({ "mcp-method": method, "mcp-name": "file:///docs/a.md" }, call(method, { uri: "file:///docs/a.md" }));
      }
    });

    it("accepts Mcp-Name alone when it matches", () => {
      expectAccepted({ "mcp-name": "get_weather" }, call("tools/call", { name: "get_weather" }));
    });

    it("accepts Mcp-Method without Mcp-Name when the body names no item", () => {
      expectAccepted({ "mcp-method": "tools/call" }, call("tools/call"));
      expectAccepted({ "mcp-method": "tools/call" }, call("tools/call", { name: 5 }));
    });
  });

  describe("Base64 names (=?base64?...?=)", () => {
    it("decodes the lowercase sentinel as the UTF-8 of the name", () => {
      expectAccepted({ "mcp-method": "tools/call", "mcp-name": encodeName("météo_😀") }, call("tools/call", { name: "météo_😀" }));
      expectAccepted({ "mcp-method": "prompts/get", "mcp-name": encodeName(" spaced name ") }, call("prompts/get", { name: " spaced name " }));
      expectAccepted({ "mcp-method": "tools/call", "mcp-name": "=?base64??=" }, call("tools/call", { name: "" }));
    });

    it("compares a decoded name with the body, not its encoded form", () => {
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": encodeName("safe_tool") }, call("tools/call", { name: "rm_rf" }), NAME_MISMATCH);
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": encodeName("weather") }, call("tools/call", { name: encodeName("weather") }), NAME_MISMATCH);
    });

    it("takes an uppercase or incomplete sentinel literally", () => {
      const upper = `=?BASE64?${Buffer.from("weather").toString("base64")}?=`;
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": upper }, call("tools/call", { name: "weather" }), NAME_MISMATCH);
      expectAccepted({ "mcp-method": "tools/call", "mcp-name": upper }, call("tools/call", { name: upper }));
      for (const literal of ["=?Base64?d2VhdGhlcg==?=", "=?base64?d2VhdGhlcg==", "?base64?d2VhdGhlcg==?=", " =?base64?d2VhdGhlcg==?="]) {
        expectAccepted({ "mcp-method": "tools/call", "mcp-name": literal }, call("tools/call", { name: literal }));
        expectMismatch({ "mcp-method": "tools/call", "mcp-name": literal }, call("tools/call", { name: "weather" }), NAME_MISMATCH);
      }
    });

    it("takes text outside the standard Base64 alphabet and padding literally (URL-safe, '=' inside, '===')", () => {
      const urlSafe = `=?base64?${Buffer.from([0xfb, 0xff]).toString("base64url")}?=`;
      expectAccepted({ "mcp-method": "tools/call", "mcp-name": urlSafe }, call("tools/call", { name: urlSafe }));
      for (const literal of ["=?base64?d2=Vh?=", "=?base64?d2VhdGhlcg===?="]) {
        expectMismatch({ "mcp-method": "tools/call", "mcp-name": literal }, call("tools/call", { name: "weather" }), NAME_MISMATCH);
      }
    });

    it("refuses Base64 whose length is not a multiple of 4", () => {
      for (const encoded of ["d2VhdGhlcg", "d2VhdGhlcg=", "d"]) {
        expectMismatch({ "mcp-method": "tools/call", "mcp-name": `=?base64?${encoded}?=` }, call("tools/call", { name: "weather" }), "Mcp-Name is not valid Base64");
      }
    });

    it("refuses bytes that are not UTF-8", () => {
      for (const bytes of [[0xff, 0xfe], [0x61, 0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
        expectMismatch({ "mcp-method": "tools/call", "mcp-name": encodeName(Buffer.from(bytes)) }, call("tools/call", { name: "a" }), "Mcp-Name does not decode to UTF-8");
      }
    });

    it("keeps a leading byte order mark as part of the name", () => {
      const withMark = encodeName(Buffer.from([0xef, 0xbb, 0xbf, 0x61]));
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": withMark }, call("tools/call", { name: "a" }), NAME_MISMATCH);
      expectAccepted({ "mcp-method": "tools/call", "mcp-name": withMark }, call("tools/call", { name: "\uFEFFa" }));
    });
  });

  describe("mismatches (400, JSON-RPC -32020 HeaderMismatch)", () => {
    it("refuses Mcp-Method naming another method, compared exactly", () => {
      for (const method of ["tools/call", "Tools/list", "tools/list ", "tools/"]) {
        expectMismatch({ "mcp-method": method }, call("tools/list"), "Mcp-Method does not match the method in the body");
      }
    });

    it("refuses Mcp-Name naming another item", () => {
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": "get_weather" }, call("tools/call", { name: "delete_everything" }), NAME_MISMATCH);
      expectMismatch({ "mcp-method": "prompts/get", "mcp-name": "Summary" }, call("prompts/get", { name: "summary" }), NAME_MISMATCH);
      expectMismatch({ "mcp-method": "resources/read", "mcp-name": "file:///docs/a.md" }, call("resources/read", { uri: "file:///etc/passwd" }), URI_MISMATCH);
      expectMismatch({ "mcp-method": "resources/subscribe", "mcp-name": "docs://a" }, call("resources/subscribe", { uri: "docs://b" }), URI_MISMATCH);
      expectMismatch({ "mcp-name": "get_weather" }, call("tools/call", { name: "delete_everything" }), NAME_MISMATCH);
    });

    it("refuses Mcp-Name when the body names no item or the method names none", () => {
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": "get_weather" }, call("tools/call"), NAME_MISMATCH);
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": "get_weather" }, call("tools/call", { uri: "get_weather" }), NAME_MISMATCH);
      expectMismatch({ "mcp-method": "tools/list", "mcp-name": "get_weather" }, call("tools/list", { name: "get_weather" }), NAME_MISMATCH);
      // A method that names no item: the header is not decoded, so no Base64 complaint hides that.
      expectMismatch({ "mcp-method": "ping", "mcp-name": "=?base64?abc?=" }, call("ping"), NAME_MISMATCH);
    });

    it("refuses Mcp-Method without Mcp-Name for a call that names an item", () => {
      expectMismatch({ "mcp-method": "tools/call" }, call("tools/call", { name: "get_weather" }), "Mcp-Name is required with Mcp-Method tools/call");
      expectMismatch({ "mcp-method": "resources/read" }, call("resources/read", { uri: "docs://a" }), "Mcp-Name is required with Mcp-Method resources/read");
      expectMismatch({ "mcp-method": "resources/unsubscribe" }, call("resources/unsubscribe", { uri: "docs://a" }), "Mcp-Name is required with Mcp-Method resources/unsubscribe");
    });

    it("refuses either header sent twice, even with equal values", () => {
      const once = "Mcp-Method and Mcp-Name must be sent once";
      expectMismatch({ "mcp-method": ["tools/list", "tools/list"] }, call("tools/list"), once);
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": ["get_weather", "delete_everything"] }, call("tools/call", { name: "get_weather" }), once);
      expectMismatch({ "mcp-name": ["a", "a"] }, call("tools/call", { name: "a" }), once);
    });

    it("refuses the headers on a batch, even of one message", () => {
      expectMismatch({ "mcp-method": "tools/list" }, bodyOf([{ jsonrpc: "2.0", id: 1, method: "tools/list" }]), ONE_REQUEST);
      const batch = bodyOf([
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "a" } },
        { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "a" } },
      ]);
      expectMismatch({ "mcp-method": "tools/call", "mcp-name": "a" }, batch, ONE_REQUEST);
      expectMismatch({ "mcp-name": "a" }, batch, ONE_REQUEST);
    });

    it("refuses the headers on a response to a server request", () => {
      expectMismatch({ "mcp-method": "sampling/createMessage" }, bodyOf({ jsonrpc: "2.0", id: 3, result: { content: [] } }), ONE_REQUEST);
      expectMismatch({ "mcp-name": "x" }, bodyOf({ jsonrpc: "2.0", id: 3, error: { code: -1, message: "declined" } }), ONE_REQUEST);
    });
  });
});
