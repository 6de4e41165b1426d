import { expect } from "chai";
import { compileGatePolicy } from "../../plugins/mcp-oauth2/core/gate-config";
import {
  buildProtectedResourceMetadata,
  encodeUrlPath,
  formatResourceMetadataUrl,
  matchMetadataRequest,
} from "../../plugins/mcp-oauth2/core/protected-resource-metadata";

const METADATA_PATH = "/.well-known/oauth-protected-resource";
const ORIGIN = "https://mcp.example.com";
const KEYCLOAK = "https://kc.example.com/realms/mcp";

function compilePolicy(overrides: Record<string, unknown> = {}) {
  return compileGatePolicy({
    authorization_servers: [
      { url: KEYCLOAK, audience: `${ORIGIN}/mcp` },
      { url: "https://login.example.org", issuer: "urn:login", audience: `${ORIGIN}/mcp` },
    ],
    ...overrides,
  });
}

describe("protected-resource-metadata (RFC 9728)", () => {
  describe("matchMetadataRequest", () => {
    it("matches the exact path, with or without a trailing slash, as the root document", () => {
      expect(matchMetadataRequest(METADATA_PATH, METADATA_PATH)).to.deep.equal({ resourcePath: "" });
      expect(matchMetadataRequest(METADATA_PATH, `${METADATA_PATH}/`)).to.deep.equal({ resourcePath: "" });
    });

    it("matches the path-inserted form at a '/' boundary (§3.1)", () => {
      expect(matchMetadataRequest(METADATA_PATH, `${METADATA_PATH}/mcp`)).to.deep.equal({ resourcePath: "/mcp" });
      expect(matchMetadataRequest(METADATA_PATH, `${METADATA_PATH}/tenant/a/mcp`)).to.deep.equal({ resourcePath: "/tenant/a/mcp" });
    });

    it("treats look-alikes as ordinary requests", () => {
      for (const path of [
        `${METADATA_PATH}-evil`,
        `${METADATA_PATH}evil`,
        `${METADATA_PATH}.json`,
        "/.well-known/oauth-protected-resourc",
        "/.WELL-KNOWN/oauth-protected-resource",
        `/mcp${METADATA_PATH}`,
        "/.well-known/oauth-authorization-server",
        "/mcp",
        "/",
      ]) {
        expect(matchMetadataRequest(METADATA_PATH, path), path).to.equal(undefined);
      }
    });
  });

  describe("buildProtectedResourceMetadata", () => {
    it("describes origin + path for the path-inserted document", () => {
      expect(buildProtectedResourceMetadata(compilePolicy({ scopes_supported: ["mcp:tools", "mcp:resources"] }), ORIGIN, "/mcp")).to.deep.equal({
        resource: `${ORIGIN}/mcp`,
        authorization_servers: [KEYCLOAK, "https://login.example.org"],
        scopes_supported: ["mcp:tools", "mcp:resources"],
        bearer_methods_supported: ["header"],
      });
    });

    it("describes the bare origin for the root document when no resource is configured", () => {
      expect(buildProtectedResourceMetadata(compilePolicy(), ORIGIN, "")).to.deep.equal({
        resource: ORIGIN,
        authorization_servers: [KEYCLOAK, "https://login.example.org"],
        bearer_methods_supported: ["header"],
      });
    });

    it("describes the configured resource, exactly as written, for the root document", () => {
      const policy = compilePolicy({ resource: "https://MCP.example.com/mcp/" });
      expect(buildProtectedResourceMetadata(policy, "https://mcp.example.com", "").resource).to.equal("https://MCP.example.com/mcp/");
      expect(buildProtectedResourceMetadata(policy, "https://mcp.example.com", "/mcp").resource).to.equal("https://mcp.example.com/mcp");
    });

    it("omits scopes_supported when empty and adds resource_name when configured", () => {
      expect(buildProtectedResourceMetadata(compilePolicy({ scopes_supported: {}, resource_name: "Weather tools" }), ORIGIN, "/mcp")).to.deep.equal({
        resource: `${ORIGIN}/mcp`,
        authorization_servers: [KEYCLOAK, "https://login.example.org"],
        bearer_methods_supported: ["header"],
        resource_name: "Weather tools",
      });
    });

    it("gives each document its own scopes_supported array", () => {
      const policy = compilePolicy({ scopes_supported: ["mcp:tools"] });
      buildProtectedResourceMetadata(policy, ORIGIN, "/mcp").scopes_supported!.push("mcp:admin");
      expect(buildProtectedResourceMetadata(policy, ORIGIN, "/mcp").scopes_supported).to.deep.equal(["mcp:tools"]);
    });
  });

  describe("formatResourceMetadataUrl (RFC 9728 §5.1)", () => {
    it("points at the root document for the root path", () => {
      expect(formatResourceMetadataUrl(ORIGIN, METADATA_PATH, "/")).to.equal(`${ORIGIN}${METADATA_PATH}`);
      expect(formatResourceMetadataUrl(ORIGIN, METADATA_PATH, "")).to.equal(`${ORIGIN}${METADATA_PATH}`);
    });

    it("inserts the metadata path before the resource path", () => {
      expect(formatResourceMetadataUrl(ORIGIN, METADATA_PATH, "/mcp")).to.equal(`${ORIGIN}${METADATA_PATH}/mcp`);
      expect(formatResourceMetadataUrl("http://127.0.0.1:8000", "/prm", "/a/mcp/")).to.equal("http://127.0.0.1:8000/prm/a/mcp/");
    });
  });

  describe("encodeUrlPath", () => {
    it("keeps RFC 3986 pchar and '/' as they are", () => {
      const path = "/AZaz09-._~!$&'()*+,;=:@/mcp";
      expect(encodeUrlPath(path)).to.equal(path);
    });

    it("percent-encodes spaces, quotes, backslashes, other delimiters and control characters, two hex digits each", () => {
      expect(encodeUrlPath("/my mcp")).to.equal("/my%20mcp");
      expect(encodeUrlPath('/a"b\\c')).to.equal("/a%22b%5Cc");
      expect(encodeUrlPath("/a\tb\u0001")).to.equal("/a%09b%01");
      expect(encodeUrlPath("/a<b>{c}|^`?#[]")).to.equal("/a%3Cb%3E%7Bc%7D%7C%5E%60%3F%23%5B%5D");
    });

    it("percent-encodes non-ASCII characters as UTF-8", () => {
      expect(encodeUrlPath("/météo")).to.equal("/m%C3%A9t%C3%A9o");
      expect(encodeUrlPath("/😀")).to.equal("/%F0%9F%98%80");
    });

    it("keeps existing escapes such as %2F, and encodes a '%' that starts none", () => {
      expect(encodeUrlPath("/a%2Fb/%20c")).to.equal("/a%2Fb/%20c");
      expect(encodeUrlPath("/100%/a%zz/%4")).to.equal("/100%25/a%25zz/%254");
    });
  });
});
