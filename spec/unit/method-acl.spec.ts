import { expect } from "chai";
import type { JsonRpcCall } from "../../plugins/mcp-oauth2/core/json-rpc-calls";
import { compileMethodAcl, findDeniedCalls, findGrantingScopes, findNarrowestScope, findStepUpScopes, findSufficientScopes, grantsAnything, isSessionCall, type MethodAcl } from "../../plugins/mcp-oauth2/core/method-acl";
import { expectConfigErrorFrom } from "../support/error-assertions";

const PATTERN_HELP = "(use 'tools/list', 'notifications/*', '*', or '<method>:<glob>' for tools/call, prompts/get, resources/read, resources/subscribe, resources/unsubscribe)";

function expectConfigError(rawEntries: readonly unknown[], path: string, problem: string, rawHierarchy: readonly unknown[] = []): void {
  expectConfigErrorFrom(() => compileMethodAcl(rawEntries, rawHierarchy), path, problem);
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
      expectConfigError([{ scope: "mcp tools", methods: ["*"] }], "scope_method_mapping[1].scope", '"mcp tools" is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)');
      expectConfigError([{ scope: 'a"b', methods: ["*"] }], "scope_method_mapping[1].scope", '"a\\"b" is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)');
      expectConfigError([{ scope: "", methods: ["*"] }], "scope_method_mapping[1].scope", '"" is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)');
      expectConfigError([{ methods: ["*"] }], "scope_method_mapping[1].scope", "undefined is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)");
    });

    it("refuses empty or non-string patterns", () => {
      expectConfigError([{ scope: "a", methods: ["ping", ""] }], "scope_method_mapping[1].methods[2]", "must be a non-empty string");
      expectConfigError([{ scope: "a", methods: [5] }], "scope_method_mapping[1].methods[1]", "must be a non-empty string");
    });

    it("refuses patterns that are not method patterns", () => {
      const notMethodNames = ["tools/", "/tools", "tools//list", "tools/list?", "tools/lïst", "tools\\list", "tools/list\n", "ping:x", "*tools", "/*", "tools/**"];
      for (const pattern of ["tools*", "*/*", "tools/*/x", "tools/list ", "tools list", "to ols/*", "constructor:*", "__proto__:*", ...notMethodNames]) {
        expectConfigError(
          [{ scope: "a", methods: ["ping"] }, { scope: "b", methods: ["tools/list", pattern] }],
          "scope_method_mapping[2].methods[2]",
          `'${pattern}' is not a method pattern ${PATTERN_HELP}`,
        );
      }
    });

    it("refuses an item pattern with an empty glob", () => {
      for (const method of ["tools/call", "prompts/get", "resources/read", "resources/subscribe", "resources/unsubscribe"]) {
        expectConfigError([{ scope: "a", methods: [`${method}:`] }], "scope_method_mapping[1].methods[1]", `'${method}:' needs a glob after ':' (e.g. ${method}:weather_*)`);
      }
    });

    it("accepts method names as MCP spells them", () => {
      const patterns = ["logging/setLevel", "notifications/tools/list_changed", "x-vendor.ext/do_$thing", "tools/*", "notifications/tools/*", "resources/subscribe:docs://*"];
      expect(compileMethodAcl([{ scope: "a", methods: patterns }]).entries[0].patterns).to.have.length(patterns.length);
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
      // A method name one character longer than an item method is a method, not an item pattern.
      expect(allows({ reader: ["tools/callx"] }, ["reader"], { method: "tools/call", item: "tools/callx" })).to.equal(false);
      expect(allows({ reader: ["tools/callx"] }, ["reader"], { method: "tools/callx" })).to.equal(true);
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

    it("matches several '*' and '?' together, and a megabyte item against a two-star glob without backtracking blow-up", () => {
      const mapping = { docs: ["resources/read:file://*/*.md"], mixed: ["tools/call:*a?b*c"] };
      const slashes = `file://${"/".repeat(1 << 20)}`;
      expect(allows(mapping, ["docs"], { method: "resources/read", item: slashes })).to.equal(false);
      expect(allows(mapping, ["docs"], { method: "resources/read", item: `${slashes}.md` })).to.equal(true);
      expect(allows(mapping, ["docs"], { method: "resources/read", item: "file:///.md" })).to.equal(true);
      expect(allows(mapping, ["docs"], { method: "resources/read", item: "file://a.md" })).to.equal(false);
      for (const [item, expected] of [["axbc", true], ["aabbc", true], ["xxaxbyyc", true], ["abc", false], ["axbcd", false], ["axbcxc", true]] as const) {
        expect(allows(mapping, ["mixed"], { method: "tools/call", item }), item).to.equal(expected);
      }
    });

    it("treats regular expression characters in globs literally", () => {
      const mapping = { odd: ["tools/call:a(b)[c]{2}|^$+.\\"] };
      expect(allows(mapping, ["odd"], { method: "tools/call", item: "a(b)[c]{2}|^$+.\\" })).to.equal(true);
      expect(allows(mapping, ["odd"], { method: "tools/call", item: "abcc|^$+x\\" })).to.equal(false);
    });

    it("matches resources/subscribe and resources/unsubscribe by params.uri", () => {
      const mapping = { watch: ["resources/subscribe:docs://*", "resources/unsubscribe:docs://*"] };
      expect(allows(mapping, ["watch"], { method: "resources/subscribe", item: "docs://a" })).to.equal(true);
      expect(allows(mapping, ["watch"], { method: "resources/unsubscribe", item: "docs://a" })).to.equal(true);
      expect(allows(mapping, ["watch"], { method: "resources/subscribe", item: "file:///etc/passwd" })).to.equal(false);
      expect(allows(mapping, ["watch"], { method: "resources/read", item: "docs://a" })).to.equal(false);
    });

    it("allows a resource URI only when the spelling sent and the resolved one both match", () => {
      const mapping = { public: ["resources/read:file:///srv/public/*"], upper: ["resources/read:FILE:///srv/secret/*"] };
      const resolvedElsewhere = { method: "resources/read", item: "FILE:///srv/secret/k", resolvedItem: "file:///srv/secret/k" };
      expect(allows(mapping, ["upper"], resolvedElsewhere)).to.equal(false);
      expect(allows(mapping, ["public"], resolvedElsewhere)).to.equal(false);
      expect(allows({ both: ["resources/read:FILE:///srv/secret/*", "resources/read:file:///srv/secret/*"] }, ["both"], resolvedElsewhere)).to.equal(true);
      expect(allows({ any: ["resources/read:*"] }, ["any"], resolvedElsewhere)).to.equal(true);
      const acl = compileMethodAcl([{ scope: "upper", methods: ["resources/read:FILE:///srv/secret/*"] }, { scope: "wide", methods: ["resources/read:*"] }]);
      expect(findNarrowestScope(acl, resolvedElsewhere)).to.equal("wide");
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

    it("never lets one scope set reuse the merged grant of another that spells alike when joined ({ab, c} and {a, bc})", () => {
      const acl = compileMethodAcl([
        { scope: "ab", methods: ["tools/list"] },
        { scope: "c", methods: ["ping"] },
        { scope: "a", methods: ["prompts/list"] },
        { scope: "bc", methods: ["resources/list"] },
      ]);
      const calls: JsonRpcCall[] = [{ method: "tools/list" }, { method: "ping" }, { method: "prompts/list" }, { method: "resources/list" }];
      expect(findDeniedCalls(acl, ["ab", "c"], calls)).to.deep.equal([{ method: "prompts/list" }, { method: "resources/list" }]);
      expect(findDeniedCalls(acl, ["a", "bc"], calls)).to.deep.equal([{ method: "tools/list" }, { method: "ping" }]);
    });

    it("shares one merged grant between tokens that differ only in order or in unmapped scopes", () => {
      const acl = compileMethodAcl([
        { scope: "a", methods: ["tools/list"] },
        { scope: "b", methods: ["ping"] },
      ]);
      for (const held of [["a", "b"], ["b", "a"], ["openid", "a", "b"], ["b", "profile", "a", "a"]]) {
        expect(findDeniedCalls(acl, held, [{ method: "tools/list" }, { method: "ping" }, { method: "initialize" }]), held.join(" ")).to.deep.equal([{ method: "initialize" }]);
      }
      expect(acl.grants.size).to.equal(1);
    });

    it("tells whether a token holds any mapped scope, directly or through the hierarchy", () => {
      const acl = compileMethodAcl([{ scope: "a", methods: ["tools/list"] }], [{ scope: "staff", implies: ["a"] }]);
      expect(grantsAnything(acl, ["openid", "profile"])).to.equal(false);
      expect(grantsAnything(acl, [])).to.equal(false);
      expect(grantsAnything(acl, ["openid", "a"])).to.equal(true);
      expect(grantsAnything(acl, ["staff"])).to.equal(true);
      const narrow = compileMethodAcl([{ scope: "tools", methods: ["tools/*"] }, { scope: "weather", methods: ["tools/call:weather_*"] }]);
      expect(grantsAnything(narrow, ["tools"]), "a method prefix only").to.equal(true);
      expect(grantsAnything(narrow, ["weather"]), "an item pattern only").to.equal(true);
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

  describe("scope_hierarchy (MCP 2026-07-28: a broader scope implies narrower ones)", () => {
    const mapping = [
      { scope: "mcp:read", methods: ["tools/list", "resources/read:docs://*"] },
      { scope: "mcp:write", methods: ["tools/call"] },
      { scope: "mcp:admin", methods: ["logging/setLevel"] },
    ];
    const hierarchy = [
      { scope: "mcp:admin", implies: ["mcp:write"] },
      { scope: "mcp:write", implies: ["mcp:read"] },
    ];
    let acl: MethodAcl;
    // Compiled per test: mutation testing sees only what runs inside a test.
    beforeEach(() => {
      acl = compileMethodAcl(mapping, hierarchy);
    });
    const calls: JsonRpcCall[] = [{ method: "tools/list" }, { method: "resources/read", item: "docs://a" }, { method: "tools/call", item: "x" }, { method: "logging/setLevel" }];

    it("closes the hierarchy transitively", () => {
      expect(acl.implied).to.deep.equal(
        new Map([
          ["mcp:admin", new Set(["mcp:write", "mcp:read"])],
          ["mcp:write", new Set(["mcp:read"])],
        ]),
      );
    });

    it("lets a broader scope through wherever an implied scope would be, never the other way", () => {
      expect(findDeniedCalls(acl, ["mcp:admin"], calls)).to.deep.equal([]);
      expect(findDeniedCalls(acl, ["mcp:write"], calls)).to.deep.equal([{ method: "logging/setLevel" }]);
      expect(findDeniedCalls(acl, ["mcp:read"], calls)).to.deep.equal([{ method: "tools/call", item: "x" }, { method: "logging/setLevel" }]);
      expect(findDeniedCalls(acl, ["openid"], calls)).to.deep.equal(calls);
    });

    it("grants through a broader scope that has no mapping of its own", () => {
      const unmapped = compileMethodAcl(mapping, [{ scope: "mcp:all", implies: ["mcp:admin", "mcp:read"] }]);
      expect(findDeniedCalls(unmapped, ["mcp:all"], calls)).to.deep.equal([{ method: "tools/call", item: "x" }]);
      expect(unmapped.implied).to.deep.equal(new Map([["mcp:all", new Set(["mcp:admin", "mcp:read"])]]));
    });

    it("merges entries naming the same broader scope, and accepts a diamond", () => {
      const merged = compileMethodAcl(mapping, [
        { scope: "mcp:all", implies: ["mcp:read"] },
        { scope: "mcp:all", implies: ["mcp:admin"] },
        { scope: "mcp:admin", implies: ["mcp:read"] },
      ]);
      expect(merged.implied.get("mcp:all")).to.deep.equal(new Set(["mcp:read", "mcp:admin"]));
      expect(findDeniedCalls(merged, ["mcp:all"], calls)).to.deep.equal([{ method: "tools/call", item: "x" }]);
    });

    it("refuses cycles, naming the loop", () => {
      expectConfigError(mapping, "scope_hierarchy", "cycle: a -> a (a scope cannot imply itself)", [{ scope: "a", implies: ["a"] }]);
      expectConfigError(mapping, "scope_hierarchy", "cycle: a -> b -> c -> a (a scope cannot imply itself)", [
        { scope: "a", implies: ["b"] },
        { scope: "b", implies: ["c"] },
        { scope: "c", implies: ["a"] },
      ]);
      expectConfigError(mapping, "scope_hierarchy", "cycle: x -> y -> x (a scope cannot imply itself)", [
        { scope: "x", implies: ["z", "y"] },
        { scope: "y", implies: ["x"] },
      ]);
    });

    it("refuses entries that are not records, scopes that are not scope tokens and empty implies (paths 1-based)", () => {
      expectConfigError(mapping, "scope_hierarchy[2]", "must be a record", [{ scope: "a", implies: ["b"] }, "a"]);
      expectConfigError(mapping, "scope_hierarchy[1]", "must be a record", [null]);
      expectConfigError(mapping, "scope_hierarchy[1].scope", '"mcp admin" is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)', [{ scope: "mcp admin", implies: ["b"] }]);
      expectConfigError(mapping, "scope_hierarchy[1].implies[2]", '"b\\\\c" is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)', [{ scope: "a", implies: ["b", "b\\c"] }]);
      expectConfigError(mapping, "scope_hierarchy[1].implies[1]", "5 is not an OAuth scope token (RFC 6749 section 3.3: printable ASCII without spaces, double quotes or backslashes)", [{ scope: "a", implies: [5] }]);
      for (const implies of [[], undefined, "b", {}]) {
        expectConfigError(mapping, "scope_hierarchy[1].implies", "needs at least one scope", [{ scope: "a", implies }]);
      }
    });
  });

  describe("session_methods: what opens and keeps a session, for any scope the ACL knows", () => {
    const sessionMethods = ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"];
    const mapping = [
      { scope: "mcp:tools", methods: ["tools/list", "tools/call:weather_*"] },
      { scope: "mcp:docs", methods: ["resources/read:docs://*"] },
    ];
    let acl: MethodAcl;
    // Compiled per test: mutation testing sees only what runs inside a test.
    beforeEach(() => {
      acl = compileMethodAcl(mapping, [{ scope: "mcp:all", implies: ["mcp:legacy"] }], sessionMethods);
    });
    const session: JsonRpcCall[] = sessionMethods.map((method) => ({ method }));

    it("allows them to a token holding any mapped scope, or a broader scope of the hierarchy that maps nothing", () => {
      for (const scopes of [["mcp:tools"], ["mcp:docs"], ["openid", "mcp:all"]]) expect(findDeniedCalls(acl, scopes, session), scopes.join(" ")).to.deep.equal([]);
    });

    it("refuses them to a token holding no scope the ACL knows, and allows nothing else through them", () => {
      expect(findDeniedCalls(acl, ["openid", "mcp:legacy"], session)).to.deep.equal(session);
      expect(findDeniedCalls(acl, [], session)).to.deep.equal(session);
      const others: JsonRpcCall[] = [{ method: "notifications/roots/list_changed" }, { method: "tools/list" }, { method: "logging/setLevel" }];
      expect(findDeniedCalls(acl, ["mcp:docs"], others)).to.deep.equal(others);
    });

    it("takes method patterns as the mapping does, and refuses others with their 1-based path", () => {
      const prefixed = compileMethodAcl(mapping, [], ["notifications/*", "tools/call:echo"]);
      expect(findDeniedCalls(prefixed, ["mcp:docs"], [{ method: "notifications/roots/list_changed" }, { method: "tools/call", item: "echo" }])).to.deep.equal([]);
      expectConfigErrorFrom(() => compileMethodAcl(mapping, [], ["ping", "tools list"]), "session_methods[2]", `'tools list' is not a method pattern ${PATTERN_HELP}`);
    });

    it("names the narrowest mapped scope for a session method when the token holds none", () => {
      expect(findStepUpScopes(acl, [{ method: "initialize" }], ["openid"])).to.deep.equal(["mcp:docs"]);
      expect(findNarrowestScope(compileMethodAcl(mapping), { method: "initialize" })).to.equal(undefined);
    });

    it("tells session calls apart", () => {
      expect(session.every((call) => isSessionCall(acl, call))).to.equal(true);
      expect(isSessionCall(acl, { method: "tools/list" })).to.equal(false);
    });
  });

  describe("findSufficientScopes (the 401 challenge's scope)", () => {
    let acl: MethodAcl;
    // Compiled per test: mutation testing sees only what runs inside a test.
    beforeEach(() => {
      acl = compileMethodAcl([
        { scope: "mcp:tools", methods: ["tools/*"] },
        { scope: "mcp:weather", methods: ["tools/call:weather_*"] },
        { scope: "mcp:docs", methods: ["resources/read:docs://*"] },
      ]);
    });

    it("names the narrowest scope of each call, once each, in call order", () => {
      const calls: JsonRpcCall[] = [
        { method: "resources/read", item: "docs://a" },
        { method: "tools/call", item: "weather_today" },
        { method: "tools/list" },
        { method: "tools/call", item: "weather_week" },
      ];
      expect(findSufficientScopes(acl, calls)).to.deep.equal(["mcp:docs", "mcp:weather", "mcp:tools"]);
    });

    it("is empty when some call no configured scope allows, and for no calls", () => {
      expect(findSufficientScopes(acl, [{ method: "tools/list" }, { method: "prompts/get", item: "x" }])).to.deep.equal([]);
      expect(findSufficientScopes(acl, [])).to.deep.equal([]);
    });
  });

  describe("findNarrowestScope (item < method < prefix < *)", () => {
    let acl: MethodAcl;
    // Compiled per test: mutation testing sees only what runs inside a test.
    beforeEach(() => {
      acl = compileMethodAcl([
        { scope: "admin", methods: ["*"] },
        { scope: "tools", methods: ["tools/*"] },
        { scope: "caller", methods: ["tools/call"] },
        { scope: "weather", methods: ["tools/call:weather_*"] },
      ]);
    });

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

    it("judges an entry by its narrowest matching pattern wherever that pattern stands", () => {
      const mixed = compileMethodAcl([
        { scope: "broad", methods: ["tools/call:weather_*", "tools/*"] },
        { scope: "caller", methods: ["tools/call"] },
      ]);
      expect(findNarrowestScope(mixed, { method: "tools/call", item: "weather_today" })).to.equal("broad");
    });

    it("prefers a narrower entry to one with fewer patterns", () => {
      const acl = compileMethodAcl([
        { scope: "exact", methods: ["tools/call", "ping"] },
        { scope: "prefix", methods: ["tools/*"] },
      ]);
      expect(findNarrowestScope(acl, { method: "tools/call" })).to.equal("exact");
    });

    it("matches an item pattern only for its own method", () => {
      const acl = compileMethodAcl([
        { scope: "weather", methods: ["tools/call:weather_*"] },
        { scope: "prompts", methods: ["prompts/*"] },
      ]);
      expect(findNarrowestScope(acl, { method: "prompts/get", item: "weather_report" })).to.equal("prompts");
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

  describe("findGrantingScopes (the decision record's scope per call)", () => {
    let acl: MethodAcl;
    // Compiled per test: mutation testing sees only what runs inside a test.
    beforeEach(() => {
      acl = compileMethodAcl(
        [
          { scope: "admin", methods: ["*"] },
          { scope: "tools", methods: ["tools/*"] },
          { scope: "weather", methods: ["tools/call:weather_*"] },
        ],
        [{ scope: "staff", implies: ["tools"] }],
      );
    });
    const calls: JsonRpcCall[] = [{ method: "tools/call", item: "weather_today" }, { method: "tools/list" }, { method: "ping" }];

    it("names, per call, the narrowest entry among the held scopes, undefined for a call they do not allow", () => {
      expect(findGrantingScopes(acl, ["tools", "weather"], calls)).to.deep.equal(["weather", "tools", undefined]);
      expect(findGrantingScopes(acl, ["admin", "weather"], calls)).to.deep.equal(["weather", "admin", "admin"]);
      expect(findGrantingScopes(acl, ["openid"], calls)).to.deep.equal([undefined, undefined, undefined]);
    });

    it("counts the scopes a held scope implies", () => {
      expect(findGrantingScopes(acl, ["staff"], calls)).to.deep.equal(["tools", "tools", undefined]);
    });
  });

  describe("findStepUpScopes (insufficient_scope challenge)", () => {
    let acl: MethodAcl;
    // Compiled per test: mutation testing sees only what runs inside a test.
    beforeEach(() => {
      acl = compileMethodAcl([
        { scope: "lister", methods: ["tools/list", "initialize", "notifications/*"] },
        { scope: "weather", methods: ["tools/call:weather_*"] },
        { scope: "docs", methods: ["resources/read:docs://*"] },
        { scope: "prompts", methods: ["prompts/*"] },
      ]);
    });

    it("asks for the narrowest scope of each denied call, then the mapped scopes already held", () => {
      const denied: JsonRpcCall[] = [{ method: "tools/call", item: "weather_today" }, { method: "resources/read", item: "docs://a" }];
      expect(findStepUpScopes(acl, denied, ["openid", "prompts", "lister", "profile"])).to.deep.equal(["weather", "docs", "prompts", "lister"]);
    });

    it("names each scope once", () => {
      const denied: JsonRpcCall[] = [{ method: "tools/call", item: "weather_a" }, { method: "tools/call", item: "weather_b" }];
      expect(findStepUpScopes(acl, denied, ["weather", "lister", "lister"])).to.deep.equal(["weather", "lister"]);
    });

    it("keeps held broader scopes of the hierarchy, and no scope the ACL does not know", () => {
      const withHierarchy = compileMethodAcl(
        [
          { scope: "lister", methods: ["tools/list"] },
          { scope: "docs", methods: ["resources/read:docs://*"] },
        ],
        [{ scope: "mcp:editor", implies: ["lister", "mcp:legacy"] }],
      );
      const denied: JsonRpcCall[] = [{ method: "resources/read", item: "docs://a" }];
      expect(findStepUpScopes(withHierarchy, denied, ["openid", "mcp:editor", "mcp:legacy", "lister", "offline_access"])).to.deep.equal(["docs", "mcp:editor", "lister"]);
    });

    it("asks for nothing when some denied call no configured scope allows", () => {
      const denied: JsonRpcCall[] = [{ method: "tools/call", item: "weather_today" }, { method: "tools/call", item: "rm_rf" }];
      expect(findStepUpScopes(acl, denied, ["lister"])).to.deep.equal([]);
    });
  });
});
