import { expect } from "chai";
import { listAuthorizedCalls, locateRequests, readJsonRpcBody, type JsonRpcBody, type JsonRpcCall } from "../../plugins/mcp-oauth2/core/json-rpc-calls";
import { MAX_JSON_NESTING } from "../../plugins/mcp-oauth2/core/unique-key-json";
import { InvalidJsonRpc } from "../../plugins/mcp-oauth2/core/refusals";

/** MCP's list methods: the requests located in these specs. */
const isListMethod = (method: string): boolean => ["tools/list", "prompts/list", "resources/list", "resources/templates/list"].includes(method);

/** What the gate reads in a body: its calls, whether it is a batch, and its list requests' methods and ids (as written). */
type ReadBody = Pick<JsonRpcBody, "calls" | "batch"> & { listRequests: Array<{ method: string; idText: string }> };

function read(body: string | Uint8Array): ReadBody {
  const read = readJsonRpcBody(typeof body === "string" ? Buffer.from(body) : body);
  return { calls: read.calls, batch: read.batch, listRequests: locateRequests(read, isListMethod).map(({ method, idText }) => ({ method, idText })) };
}

/** What readJsonRpcBody returns for one message (not a batch) without list requests. */
function single(...calls: JsonRpcCall[]): ReadBody {
  return { calls, batch: false, listRequests: [] };
}

function batchOf(...calls: JsonRpcCall[]): ReadBody {
  return { calls, batch: true, listRequests: [] };
}

function request(method: unknown, params?: unknown, id: number | undefined = 1): Record<string, unknown> {
  return { jsonrpc: "2.0", ...(id === undefined ? {} : { id }), method, ...(params === undefined ? {} : { params }) };
}

function expectRefused(body: string | Uint8Array, jsonRpcCode: -32700 | -32600 | -32602, description: string): void {
  const refusal = expect(() => read(body)).to.throw(InvalidJsonRpc);
  refusal.with.property("jsonRpcCode", jsonRpcCode);
  refusal.with.property("description", description);
  refusal.with.property("status", 400);
}

const NOT_JSON = "the body is not valid UTF-8 JSON";
const NOT_OBJECT = "every JSON-RPC message must be an object";
const METHOD_NOT_STRING = "the JSON-RPC method must be a string";

describe("json-rpc-calls", () => {
  describe("messages", () => {
    it("reads a single request", () => {
      expect(read(JSON.stringify(request("tools/list")))).to.deep.equal({ ...single({ method: "tools/list" }), listRequests: [{ method: "tools/list", idText: "1" }] });
    });

    it("reads a notification (no id)", () => {
      expect(read(JSON.stringify(request("notifications/initialized", undefined, undefined)))).to.deep.equal(single({ method: "notifications/initialized" }));
    });

    it("tells a batch of one from a single message", () => {
      expect(read(JSON.stringify([request("tools/list")]))).to.deep.equal({ ...batchOf({ method: "tools/list" }), listRequests: [{ method: "tools/list", idText: "1" }] });
    });

    it("keeps the method and the id, as written, of every list request: every list message with an id", () => {
      const lists = ["tools/list", "prompts/list", "resources/list", "resources/templates/list"].map((method, id) => request(method, {}, id));
      const odd = [{ ...request("tools/list"), id: "a" }, { ...request("tools/list"), id: 1.5 }, { ...request("tools/list"), id: null }, { jsonrpc: "2.0", method: "tools/list" }, { ...request("prompts/list"), id: {} }];
      expect(read(JSON.stringify([...lists, request("ping", {}, 9), ...odd])).listRequests).to.deep.equal([
        { method: "tools/list", idText: "0" },
        { method: "prompts/list", idText: "1" },
        { method: "resources/list", idText: "2" },
        { method: "resources/templates/list", idText: "3" },
        { method: "tools/list", idText: '"a"' },
        { method: "tools/list", idText: "1.5" },
        { method: "tools/list", idText: "null" },
        { method: "prompts/list", idText: "{}" },
      ]);
    });

    it("finds each list request's id where it is written, whatever the spacing, escapes and nesting around it", () => {
      const text = String.raw` [ {"params":{"id":"inner","cursor":"]},{"},"\u0069d" : 12345678901234567890 ,"method":"tools/list"} ,	{"id":"x\\\"y","method":"ping"},{ "method" : "prompts/list", "id":"p\"1" } ] `;
      const body = readJsonRpcBody(Buffer.from(text));
      expect(body.text).to.equal(text);
      expect(locateRequests(body, isListMethod).map(({ method, idText, idRange }) => [method, idText, text.slice(...idRange)])).to.deep.equal([
        ["tools/list", "12345678901234567890", "12345678901234567890"],
        ["prompts/list", '"p\\"1"', '"p\\"1"'],
      ]);
    });

    it("reads every message of a batch, in order", () => {
      const batch = [request("initialize", { protocolVersion: "2025-03-26" }), request("notifications/initialized", undefined, undefined), request("tools/call", { name: "weather" }, 2)];
      expect(read(JSON.stringify(batch))).to.deep.equal(batchOf({ method: "initialize" }, { method: "notifications/initialized" }, { method: "tools/call", item: "weather" }));
    });

    it("lets responses to server requests pass without a call", () => {
      expect(read('{"jsonrpc":"2.0","id":7,"result":{"content":[]}}')).to.deep.equal(single());
      expect(read('{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"declined"}}')).to.deep.equal(single());
      expect(read(JSON.stringify([{ jsonrpc: "2.0", id: 7, result: {} }, request("ping")]))).to.deep.equal(batchOf({ method: "ping" }));
      expect(read(JSON.stringify([{ jsonrpc: "2.0", id: 7, result: {} }]))).to.deep.equal(batchOf());
    });

    it("refuses an empty batch (-32600)", () => {
      expectRefused("[]", -32600, "an empty JSON-RPC batch is invalid");
    });

    it("refuses a message with neither method, result nor error (-32600)", () => {
      expectRefused('{"jsonrpc":"2.0","id":1}', -32600, "a JSON-RPC message needs a method, a result or an error");
      expectRefused('[{"jsonrpc":"2.0","method":"ping"},{"id":2}]', -32600, "a JSON-RPC message needs a method, a result or an error");
    });

    it("refuses messages that are not objects (-32600)", () => {
      for (const body of ["42", '"tools/list"', "null", "true", "[1]", '["tools/list"]', "[null]", "[[]]", '[{"method":"ping"},[{"method":"ping"}]]']) {
        expectRefused(body, -32600, NOT_OBJECT);
      }
    });

    it("refuses a method that is not a string (-32600)", () => {
      for (const method of [5, null, true, {}, ["tools/list"]]) expectRefused(JSON.stringify(request(method)), -32600, METHOD_NOT_STRING);
    });
  });

  describe("items", () => {
    it("takes params.name of tools/call and prompts/get, params.uri of resources/read, subscribe and unsubscribe", () => {
      const batch = [
        request("tools/call", { name: "get_weather", arguments: { city: "Oslo" } }),
        request("prompts/get", { name: "summary" }),
        request("resources/read", { uri: "file:///docs/a.md" }),
        request("resources/subscribe", { uri: "file:///docs/b.md" }),
        request("resources/unsubscribe", { uri: "file:///docs/c.md" }),
      ];
      expect(read(JSON.stringify(batch))).to.deep.equal(
        batchOf(
          { method: "tools/call", item: "get_weather" },
          { method: "prompts/get", item: "summary" },
          { method: "resources/read", item: "file:///docs/a.md" },
          { method: "resources/subscribe", item: "file:///docs/b.md" },
          { method: "resources/unsubscribe", item: "file:///docs/c.md" },
        ),
      );
    });

    it("takes no item from the wrong member or from other methods", () => {
      const batch = [request("tools/call", { uri: "x" }), request("resources/read", { name: "x" }), request("tools/list", { name: "x" }), request("resources/subscribe", { name: "x" })];
      expect(read(JSON.stringify(batch))).to.deep.equal({
        ...batchOf({ method: "tools/call" }, { method: "resources/read" }, { method: "tools/list" }, { method: "resources/subscribe" }),
        listRequests: [{ method: "tools/list", idText: "1" }],
      });
    });

    it("takes no item when params or the name is not what MCP sends", () => {
      for (const params of [undefined, null, "get_weather", ["get_weather"], { name: 5 }, { name: null }, { name: ["get_weather"] }, { name: { value: "get_weather" } }]) {
        expect(read(JSON.stringify(request("tools/call", params))), JSON.stringify(params)).to.deep.equal(single({ method: "tools/call" }));
      }
    });

    it("takes no item for methods named like Object.prototype members", () => {
      expect(read('{"method":"toString","params":{"function toString() { [native code] }":"x"}}')).to.deep.equal(single({ method: "toString" }));
      expect(read('{"method":"constructor","params":{"function Object() { [native code] }":"x"}}')).to.deep.equal(single({ method: "constructor" }));
      expect(read('{"method":"__proto__","params":{"[object Object]":"x"}}')).to.deep.equal(single({ method: "__proto__" }));
    });
  });

  describe("bytes the upstream could read differently", () => {
    it("refuses invalid UTF-8 (-32700)", () => {
      expectRefused(Uint8Array.from([0x7b, 0xff, 0x7d]), -32700, NOT_JSON);
      const prefix = Buffer.from('{"method":"tools/call","params":{"name":"a');
      expectRefused(Buffer.concat([prefix, Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]), -32700, NOT_JSON);
    });

    it("reads multi-byte UTF-8 names", () => {
      expect(read(JSON.stringify(request("tools/call", { name: "météo_😀" })))).to.deep.equal(single({ method: "tools/call", item: "météo_😀" }));
    });

    it("refuses a UTF-8 byte order mark (-32700)", () => {
      expectRefused(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(request("ping")))]), -32700, "the body must not start with a byte order mark");
      expectRefused(Buffer.concat([Buffer.from([0xef, 0xbb]), Buffer.from(JSON.stringify(request("ping")))]), -32700, NOT_JSON);
    });

    it("refuses text that is not JSON (-32700)", () => {
      for (const body of ["", " ", '{"method":"ping"', '{"method":"ping"}{"method":"ping"}', "{method:'ping'}"]) expectRefused(body, -32700, NOT_JSON);
    });

    it("refuses a repeated method member, escaped or not (-32600)", () => {
      expectRefused('{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}', -32600, 'the body repeats the member name "method"');
      expectRefused('{"jsonrpc":"2.0","id":1,"method":"tools/list","m\\u0065thod":"tools/call"}', -32600, 'the body repeats the member name "method"');
      expectRefused('[{"method":"ping"},{"method":"ping","method":"tools/call"}]', -32600, 'the body repeats the member name "method"');
      expectRefused('{"method":"ping","a\\"\\n":1,"a\\"\\n":2}', -32600, 'the body repeats the member name "a\\"\\n"');
    });

    it("refuses a repeated params member of a single or batched call (-32600)", () => {
      expectRefused('{"method":"tools/call","params":{"name":"safe","name":"dangerous"}}', -32600, 'the body repeats the member name "name"');
      expectRefused('[{"method":"tools/call","params":{"name":"safe","name":"dangerous"}}]', -32600, 'the body repeats the member name "name"');
      expectRefused('{"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}', -32600, 'the body repeats the member name "params"');
    });

    it("leaves repeated members below the params to the upstream (depth 2 for a single message, 3 for a batch)", () => {
      expect(read('{"method":"tools/call","params":{"name":"a","arguments":{"k":1,"k":2}}}')).to.deep.equal(single({ method: "tools/call", item: "a" }));
      expect(read('[{"method":"tools/call","params":{"name":"a","arguments":{"k":1,"k":2}}}]')).to.deep.equal(batchOf({ method: "tools/call", item: "a" }));
      expect(read('{"method":"tools/call","params":{"name":"a","arguments":{"q":{"k":1,"k":2}}}}')).to.deep.equal(single({ method: "tools/call", item: "a" }));
    });
  });

  describe("member names another parser folds together (Go encoding/json, .NET case-insensitive binding)", () => {
    const folded = (name: string) => `the member name ${JSON.stringify(name)} differs from another only by case or ignorable characters`;

    it("refuses a structural member spelled with other case, NUL, ignorable or compatibility characters (-32600)", () => {
      for (const [body, name] of [
        ['{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","result":{}}', "METHOD"],
        ['{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"admin_wipe"},"result":{}}', "Method"],
        ['{"jsonrpc":"2.0","id":1,"method":"tools/list","Params":{"name":"admin_wipe"}}', "Params"],
        ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather_now","Name":"admin_wipe"}}', "Name"],
        ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"admin_wipe"}}', "Name"],
        ['{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"admin_wipe"}}', "paramſ"],
        ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name\\u0000":"admin_wipe"}}', "name\u0000"],
        ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"na­me":"admin_wipe"}}', "na­me"],
        ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"ｎａｍｅ":"admin_wipe"}}', "ｎａｍｅ"],
        ['{"jsonrpc":"2.0","ıd":1,"method":"ping"}', "ıd"],
        ['{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///srv/public/a","URI":"file:///srv/secret/b"}}', "URI"],
        ['[{"method":"ping"},{"method":"ping","jsonRPC":"2.0"}]', "jsonRPC"],
      ] as const) {
        expectRefused(body, -32600, folded(name));
      }
    });

    it("refuses two params members that fold together even when neither is structural", () => {
      expectRefused('{"method":"tools/call","params":{"name":"a","arguments":{},"Arguments":{"x":1}}}', -32600, folded("Arguments"));
      expectRefused('{"method":"tools/call","params":{"name":"a","kind":1,"\u212aind":2}}', -32600, folded("\u212aind"));
    });

    it("leaves tool arguments and other non-structural names alone", () => {
      expect(read('{"method":"tools/call","params":{"name":"a","_meta":{},"arguments":{"Name":1,"name":2,"NAME\\u0000":3}}}')).to.deep.equal(single({ method: "tools/call", item: "a" }));
      expect(read('{"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}')).to.deep.equal(single({ method: "initialize" }));
    });

    it("cuts a folded member name it quotes to 100 characters", () => {
      const long = `Name${"x".repeat(5000)}`;
      const refusal = expect(() => read(`{"method":"ping","params":{"name":1,"${long.toUpperCase()}":2,"${long}":3}}`)).to.throw(InvalidJsonRpc);
      refusal.with.property("description").that.has.length.below(200);
    });
  });

  describe("resource URIs as the upstream resolves them", () => {
    const spelled = (uri: string) => `the resource URI ${JSON.stringify(uri)} has dot segments, encoded dots or slashes, backslashes, spaces or control characters`;

    it("refuses dot segments, encoded dots and slashes, backslashes, whitespace and controls (-32602)", () => {
      for (const uri of [
        "file:///srv/public/../secret/keys.txt",
        "file:///srv/public/%2e%2e/secret/keys.txt",
        "file:///srv/public/%2E%2E/secret/keys.txt",
        "file:///srv/public/.%2e/secret/keys.txt",
        "file:///srv/public/..\\secret\\keys.txt",
        "file:///srv/public/\t../secret/keys.txt",
        "file:///srv/public/x/..",
        "file:///srv/public/./keys.txt",
        "file:///srv/public/a%2fb",
        "file:///srv/public/a%5Cb",
        "https://example.com/public/..?x",
        "https://example.com/public/a b",
        "https://example.com/public/\u0000",
        "https://example.com/public/a\u007f",
      ]) {
        for (const method of ["resources/read", "resources/subscribe", "resources/unsubscribe"]) {
          expectRefused(JSON.stringify(request(method, { uri })), -32602, spelled(uri));
        }
      }
    });

    it("keeps the resolved spelling beside the one sent when a WHATWG parser changes it", () => {
      expect(read(JSON.stringify(request("resources/read", { uri: "FILE:///srv/public/a.txt" })))).to.deep.equal(
        single({ method: "resources/read", item: "FILE:///srv/public/a.txt", resolvedItem: "file:///srv/public/a.txt" }),
      );
      expect(read(JSON.stringify(request("resources/read", { uri: "https://Example.com:443/public/x" })))).to.deep.equal(
        single({ method: "resources/read", item: "https://Example.com:443/public/x", resolvedItem: "https://example.com/public/x" }),
      );
    });

    it("keeps URIs that resolve to themselves, and strings no WHATWG parser reads, as sent", () => {
      for (const uri of ["file:///srv/public/a..b/c.txt", "docs://readme", "https://example.com/public/x?q=1", "not a url".replace(/ /g, "-")]) {
        expect(read(JSON.stringify(request("resources/read", { uri }))), uri).to.deep.equal(single({ method: "resources/read", item: uri }));
      }
    });

    it("does not apply URI rules to tool and prompt names", () => {
      expect(read(JSON.stringify(request("tools/call", { name: "../x y" })))).to.deep.equal(single({ method: "tools/call", item: "../x y" }));
    });
  });

  describe("nesting", () => {
    it(`refuses a body nested deeper than ${MAX_JSON_NESTING} levels, tool arguments included (-32600)`, () => {
      const tooDeep = `the body nests deeper than ${MAX_JSON_NESTING} levels`;
      expectRefused(`${"[".repeat(MAX_JSON_NESTING + 1)}${"]".repeat(MAX_JSON_NESTING + 1)}`, -32600, tooDeep);
      // The message and its params take two levels.
      const deepest = JSON.parse(`${'{"a":'.repeat(MAX_JSON_NESTING - 2)}1${"}".repeat(MAX_JSON_NESTING - 2)}`);
      expect(read(JSON.stringify(request("tools/call", { name: "a", arguments: deepest })))).to.deep.equal(single({ method: "tools/call", item: "a" }));
      expectRefused(JSON.stringify(request("tools/call", { name: "a", arguments: { deeper: deepest } })), -32600, tooDeep);
    });
  });

  describe("subscriptions/listen (MCP 2026-07-28): each resource subscription is a resources/subscribe", () => {
    const listen = (notifications: unknown) => JSON.stringify(request("subscriptions/listen", { notifications }));
    const subscribe = (item: string, resolvedItem?: string): JsonRpcCall => ({ method: "resources/subscribe", item, ...(resolvedItem === undefined ? {} : { resolvedItem }) });

    it("implies one resources/subscribe per URI, in every spelling an upstream binds", () => {
      expect(read(listen({ resourceSubscriptions: ["file:///a", "FILE:///b"] }))).to.deep.equal(
        single({ method: "subscriptions/listen", impliedCalls: [subscribe("file:///a"), subscribe("FILE:///b", "file:///b")] }),
      );
      for (const name of ["resource_subscriptions", "ResourceSubscriptions", "RESOURCE_SUBSCRIPTIONS", "resource\u200bSubscriptions"]) {
        const body = `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"${name}":["file:///x"]}}}`;
        expect(read(body), name).to.deep.equal(single({ method: "subscriptions/listen", impliedCalls: [subscribe("file:///x")] }));
      }
      expect(listAuthorizedCalls(readJsonRpcBody(Buffer.from(listen({ resourceSubscriptions: ["file:///a"] }))).calls)).to.deep.equal([
        { method: "subscriptions/listen", impliedCalls: [subscribe("file:///a")] },
        subscribe("file:///a"),
      ]);
    });

    it("implies nothing without subscriptions, and for other methods", () => {
      expect(read(listen({ toolsListChanged: true }))).to.deep.equal(single({ method: "subscriptions/listen" }));
      expect(read(listen({ resourceSubscriptions: [] }))).to.deep.equal(single({ method: "subscriptions/listen" }));
      expect(read(JSON.stringify(request("tools/list", { notifications: { resourceSubscriptions: ["file:///a"] } })))).to.deep.equal({
        ...single({ method: "tools/list" }),
        listRequests: [{ method: "tools/list", idText: "1" }],
      });
    });

    it("refuses subscriptions named twice, given as anything but a list of strings, or spelled to resolve elsewhere", () => {
      expectRefused(listen({ resourceSubscriptions: ["file:///a"], resource_subscriptions: ["file:///b"] }), -32600, "params.notifications names its resource subscriptions more than once");
      expectRefused(
        '{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[],"resourceSubscriptions":["file:///secret"]}}}',
        -32600,
        'the body repeats the member name "resourceSubscriptions"',
      );
      expectRefused(
        '[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[],"resourceSubscriptions":["file:///secret"]}}}]',
        -32600,
        'the body repeats the member name "resourceSubscriptions"',
      );
      for (const value of ["file:///a", [1], [null], { uri: "file:///a" }]) {
        expectRefused(listen({ resourceSubscriptions: value }), -32602, "params.notifications.resourceSubscriptions must be a list of resource URIs");
      }
      expectRefused(listen({ resourceSubscriptions: ["file:///public/../secret"] }), -32602, 'the resource URI "file:///public/../secret" has dot segments, encoded dots or slashes, backslashes, spaces or control characters');
      expectRefused(JSON.stringify(request("subscriptions/listen", { Notifications: { resourceSubscriptions: ["file:///secret"] } })), -32600, 'the member name "Notifications" differs from another only by case or ignorable characters');
    });
  });
});
