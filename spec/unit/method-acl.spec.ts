import { expect } from "chai";
import { ConfigError } from "../../plugins/mcp-oauth2/core/config-error";
import type { JsonRpcCall } from "../../plugins/mcp-oauth2/core/json-rpc-calls";
import { compileMethodAcl, findDeniedCalls, findNarrowestScope, findStepUpScopes } from "../../plugins/mcp-oauth2/core/method-acl";

const PATTERN_HELP = "(use 'tools/list', 'notifications/*', '*', or 'tools/call:<glob>', 'resources/read:<glob>', 'prompts/get:<glob>')";

function expectConfigError(rawEntries: readonly unknown[], path: string, problem: string): void {
  const thrown = expect(() => compileMethodAcl(rawEntries)).to.throw(ConfigError);
  thrown.with.property("path", path);
  thrown.with.property("message", `${path}: ${problem}`);
}

/** Whether a token holding `scopes` may make `call` under a one-entry-per-scope mapping. */
function allows(mapping: Record<string, string[]>, scopes: string[], call: JsonRpcCall): boolean {
  const acl = compileMethodAcl(Object.entries(mapping).map(([scope, methods]) => ({ scope, methods })));
  return findDeniedCalls(acl, scopes, [call]).length === 0;
}

describe("method-acl", () => {
  describe("compileMethodAcl errors (paths as Kong names fields, 1-based)", () => {
    it("refuses entries that are not records", () => {
      expectConfigError([{ scope: "a", methods: ["*"] }, "a"], "scope_method_mapping[2]", "must be a record");
      expectConfigError([null], "scope_method_mapping[1]", "must be a record");
    });

    it("refuses entries without method patterns", () => {
      expectConfigError([{ scope: "a", methods: [] }], "scope_method_mapping[1].methods", "needs at least one method pattern");
      expectConfigError([{ scope: "a" }], "scope_method_mapping[1].methods", "needs at least one method pattern");
    });

    it("refuses scopes that are not OAuth scope tokens (RFC 6749 §3.3)", () => {
      expectConfigError([{ scope: "mcp tools", methods: ["*"] }], "scope_method_mapping[1].scope", '"mcp tools" is not a valid OAuth scope token');
      expectConfigError([{ scope: 'a"b', methods: ["*"] }], "scope_method_mapping[1].scope", '"a\\"b" is not a valid OAuth scope token');
      expectConfigError([{ scope: "", methods: ["*"] }], "scope_method_mapping[1].scope", '"" is not a valid OAuth scope token');
      expectConfigError([{ methods: ["*"] }], "scope_method_mapping[1].scope", "undefined is not a valid OAuth scope token");
    });

    it("refuses empty or non-string patterns", () => {
      expectConfigError([{ scope: "a", methods: ["ping", ""] }], "scope_method_mapping[1].methods[2]", "must be a non-empty string");
      expectConfigError([{ scope: "a", methods: [5] }], "scope_method_mapping[1].methods[1]", "must be a non-empty string");
    });

    it("refuses patterns that are not method patterns", () => {
      for (const pattern of ["tools*", "*/*", "tools/*/x", "tools/list ", "tools list", "constructor:*", "__proto__:*"]) {
        expectConfigError(
          [{ scope: "a", methods: ["ping"] }, { scope: "b", methods: ["tools/list", pattern] }],
          "scope_method_mapping[2].methods[2]",
          `'${pattern}' is not a method pattern ${PATTERN_HELP}`,
        );
      }
    });

    it("compiles an empty mapping", () => {
      expect(compileMethodAcl([]).entries).to.deep.equal([]);
    });
  });

  describe("matching", () => {
    it("matches exact methods exactly", () => {
      const mapping = { reader: ["tools/list"] };
      expect(allows(mapping, ["reader"], { method: "tools/list" })).to.equal(true);
      expect(allows(mapping, ["reader"], { method: "tools/listx" })).to.equal(false);
      expect(allows(mapping, ["reader"], { method: "tools/lis" })).to.equal(false);
      expect(allows(mapping, ["reader"], { method: "tools/call", item: "tools/list" })).to.equal(false);
    });

    it("matches a prefix up to and including its '/'", () => {
      const mapping = { lifecycle: ["notifications/*"] };
      expect(allows(mapping, ["lifecycle"], { method: "notifications/initialized" })).to.equal(true);
      expect(allows(mapping, ["lifecycle"], { method: "notifications/tools/list_changed" })).to.equal(true);
      expect(allows(mapping, ["lifecycle"], { method: "notifications" })).to.equal(false);
      expect(allows(mapping, ["lifecycle"], { method: "notificationsx/initialized" })).to.equal(false);
    });

    it("matches everything with '*'", () => {
      for (const call of [{ method: "initialize" }, { method: "tools/call", item: "rm_rf" }, { method: "" }]) {
        expect(allows({ admin: ["*"] }, ["admin"], call)).to.equal(true);
      }
    });

    it("matches item globs: '*' any run (slashes included), '?' one character", () => {
      const mapping = { weather: ["tools/call:weather_*"], short: ["prompts/get:ab?"], docs: ["resources/read:file:///docs/*.md"] };
      expect(allows(mapping, ["weather"], { method: "tools/call", item: "weather_today" })).to.equal(true);
      expect(allows(mapping, ["weather"], { method: "tools/call", item: "weather_" })).to.equal(true);
      expect(allows(mapping, ["weather"], { method: "tools/call", item: "get_weather_today" })).to.equal(false);
      expect(allows(mapping, ["weather"], { method: "tools/call" })).to.equal(false);
      expect(allows(mapping, ["weather"], { method: "prompts/get", item: "weather_today" })).to.equal(false);
      expect(allows(mapping, ["short"], { method: "prompts/get", item: "abc" })).to.equal(true);
      expect(allows(mapping, ["short"], { method: "prompts/get", item: "ab" })).to.equal(false);
      expect(allows(mapping, ["short"], { method: "prompts/get", item: "abcd" })).to.equal(false);
      expect(allows(mapping, ["docs"], { method: "resources/read", item: "file:///docs/a/b.md" })).to.equal(true);
      expect(allows(mapping, ["docs"], { method: "resources/read", item: "file:///docs/a.mdx" })).to.equal(false);
      expect(allows(mapping, ["docs"], { method: "resources/read", item: "file:///docs/aXmd" })).to.equal(false);
    });

    it("treats regular expression characters in globs literally", () => {
      const mapping = { odd: ["tools/call:a(b)[c]{2}|^$+.\\"] };
      expect(allows(mapping, ["odd"], { method: "tools/call", item: "a(b)[c]{2}|^$+.\\" })).to.equal(true);
      expect(allows(mapping, ["odd"], { method: "tools/call", item: "abcc|^$+x\\" })).to.equal(false);
    });

    it("matches a pattern with an empty glob as an exact method name", () => {
      expect(allows({ odd: ["tools/call:"] }, ["odd"], { method: "tools/call:" })).to.equal(true);
      expect(allows({ odd: ["tools/call:"] }, ["odd"], { method: "tools/call", item: "" })).to.equal(false);
    });

    it("adds up the permissions of every granted scope and ignores unmapped ones", () => {
      const acl = compileMethodAcl([
        { scope: "lister", methods: ["tools/list"] },
        { scope: "weather", methods: ["tools/call:weather_*"] },
      ]);
      const calls: JsonRpcCall[] = [{ method: "tools/list" }, { method: "tools/call", item: "weather_today" }, { method: "ping" }];
      expect(findDeniedCalls(acl, ["lister", "weather", "openid"], calls)).to.deep.equal([{ method: "ping" }]);
      expect(findDeniedCalls(acl, ["weather"], calls)).to.deep.equal([{ method: "tools/list" }, { method: "ping" }]);
      expect(findDeniedCalls(acl, ["openid", "profile"], calls)).to.deep.equal(calls);
      expect(findDeniedCalls(acl, ["lister", "lister"], calls)).to.deep.equal([{ method: "tools/call", item: "weather_today" }, { method: "ping" }]);
      expect(findDeniedCalls(acl, ["lister"], [])).to.deep.equal([]);
    });

    it("gives the same answers for the same scopes in any order", () => {
      const acl = compileMethodAcl([
        { scope: "a", methods: ["tools/list"] },
        { scope: "b", methods: ["ping"] },
      ]);
      const calls: JsonRpcCall[] = [{ method: "tools/list" }, { method: "ping" }, { method: "initialize" }];
      expect(findDeniedCalls(acl, ["a", "b"], calls)).to.deep.equal([{ method: "initialize" }]);
      expect(findDeniedCalls(acl, ["b", "a"], calls)).to.deep.equal([{ method: "initialize" }]);
      expect(findDeniedCalls(acl, ["b"], calls)).to.deep.equal([{ method: "tools/list" }, { method: "initialize" }]);
    });

    it("keeps at most 1024 merged grants and still decides correctly past that", () => {
      const scopes = Array.from({ length: 11 }, (_, index) => `s${index}`);
      const acl = compileMethodAcl(scopes.map((scope) => ({ scope, methods: [`m/${scope}`] })));
      for (let subset = 1; subset <= 1100; subset++) {
        const held = scopes.filter((_, index) => (subset >> index) & 1);
        const calls = scopes.map((scope) => ({ method: `m/${scope}` }));
        expect(findDeniedCalls(acl, held, calls).map((call) => call.method)).to.deep.equal(
          scopes.filter((scope) => !held.includes(scope)).map((scope) => `m/${scope}`),
        );
      }
      expect(acl.grants.size).to.equal(1024);
      expect(acl.grants.has("s0")).to.equal(false);
      expect(findDeniedCalls(acl, ["s0"], [{ method: "m/s0" }, { method: "m/s1" }])).to.deep.equal([{ method: "m/s1" }]);
      expect(acl.grants.size).to.equal(1024);
    });
  });

  describe("findNarrowestScope (item < method < prefix < *)", () => {
    const acl = compileMethodAcl([
      { scope: "admin", methods: ["*"] },
      { scope: "tools", methods: ["tools/*"] },
      { scope: "caller", methods: ["tools/call"] },
      { scope: "weather", methods: ["tools/call:weather_*"] },
    ]);

    it("prefers an item pattern, then an exact method, then a prefix, then '*'", () => {
      expect(findNarrowestScope(acl, { method: "tools/call", item: "weather_today" })).to.equal("weather");
      expect(findNarrowestScope(acl, { method: "tools/call", item: "news" })).to.equal("caller");
      expect(findNarrowestScope(acl, { method: "tools/call" })).to.equal("caller");
      expect(findNarrowestScope(acl, { method: "tools/list" })).to.equal("tools");
      expect(findNarrowestScope(acl, { method: "ping" })).to.equal("admin");
    });

    it("judges an entry by its narrowest matching pattern", () => {
      const mixed = compileMethodAcl([
        { scope: "caller", methods: ["tools/call"] },
        { scope: "broad", methods: ["*", "tools/call:weather_*"] },
      ]);
      expect(findNarrowestScope(mixed, { method: "tools/call", item: "weather_today" })).to.equal("broad");
      expect(findNarrowestScope(mixed, { method: "tools/call", item: "news" })).to.equal("caller");
    });

    it("breaks ties by fewer patterns, then by configuration order", () => {
      const tied = compileMethodAcl([
        { scope: "big", methods: ["tools/call", "tools/list", "ping"] },
        { scope: "first", methods: ["tools/call", "ping"] },
        { scope: "second", methods: ["ping", "tools/call"] },
      ]);
      expect(findNarrowestScope(tied, { method: "tools/call" })).to.equal("first");
      expect(findNarrowestScope(tied, { method: "tools/list" })).to.equal("big");
    });

    it("returns undefined when no configured scope allows the call", () => {
      const narrow = compileMethodAcl([{ scope: "tools", methods: ["tools/*"] }]);
      expect(findNarrowestScope(narrow, { method: "resources/read", item: "file:///a" })).to.equal(undefined);
    });
  });

  describe("findStepUpScopes (insufficient_scope challenge)", () => {
    const acl = compileMethodAcl([
      { scope: "lister", methods: ["tools/list", "initialize", "notifications/*"] },
      { scope: "weather", methods: ["tools/call:weather_*"] },
      { scope: "docs", methods: ["resources/read:docs://*"] },
      { scope: "prompts", methods: ["prompts/*"] },
    ]);

    it("asks for the narrowest scope of each denied call, then the mapped scopes already held", () => {
      const denied: JsonRpcCall[] = [{ method: "tools/call", item: "weather_today" }, { method: "resources/read", item: "docs://a" }];
      expect(findStepUpScopes(acl, denied, ["openid", "prompts", "lister", "profile"])).to.deep.equal(["weather", "docs", "prompts", "lister"]);
    });

    it("names each scope once", () => {
      const denied: JsonRpcCall[] = [{ method: "tools/call", item: "weather_a" }, { method: "tools/call", item: "weather_b" }];
      expect(findStepUpScopes(acl, denied, ["weather", "lister", "lister"])).to.deep.equal(["weather", "lister"]);
    });

    it("asks for nothing when some denied call no configured scope allows", () => {
      const denied: JsonRpcCall[] = [{ method: "tools/call", item: "weather_today" }, { method: "tools/call", item: "rm_rf" }];
      expect(findStepUpScopes(acl, denied, ["lister"])).to.deep.equal([]);
    });
  });
});
