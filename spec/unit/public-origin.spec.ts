import { expect } from "chai";
import { formatForwardedOrigin } from "../../plugins/mcp-oauth2/core/public-origin";
import { InvalidRequest } from "../../plugins/mcp-oauth2/core/refusals";

describe("public-origin", () => {
  describe("formatForwardedOrigin", () => {
    it("omits the scheme's default port (RFC 6454 §4)", () => {
      expect(formatForwardedOrigin("https", "mcp.example.com", 443)).to.equal("https://mcp.example.com");
      expect(formatForwardedOrigin("http", "mcp.example.com", 80)).to.equal("http://mcp.example.com");
    });

    it("keeps other ports, including the other scheme's default", () => {
      expect(formatForwardedOrigin("https", "mcp.example.com", 8443)).to.equal("https://mcp.example.com:8443");
      expect(formatForwardedOrigin("http", "127.0.0.1", 8000)).to.equal("http://127.0.0.1:8000");
      expect(formatForwardedOrigin("https", "mcp.example.com", 80)).to.equal("https://mcp.example.com:80");
      expect(formatForwardedOrigin("http", "mcp.example.com", 443)).to.equal("http://mcp.example.com:443");
    });

    it("ignores a missing or impossible port", () => {
      for (const port of [undefined, 0, -1, 65536, 100000, 80.5]) {
        expect(formatForwardedOrigin("https", "mcp.example.com", port), String(port)).to.equal("https://mcp.example.com");
      }
    });

    it("lower-cases scheme and host", () => {
      expect(formatForwardedOrigin("HTTPS", "MCP.Example.COM", 443)).to.equal("https://mcp.example.com");
    });

    it("writes IPv6 hosts in brackets", () => {
      expect(formatForwardedOrigin("http", "[::1]", 8000)).to.equal("http://[::1]:8000");
      expect(formatForwardedOrigin("https", "[2001:DB8::1]", 443)).to.equal("https://[2001:db8::1]");
    });

    it("writes internationalized hosts in their ASCII form", () => {
      expect(formatForwardedOrigin("https", "bücher.example", 443)).to.equal("https://xn--bcher-kva.example");
    });

    it("refuses schemes other than http and https", () => {
      for (const scheme of ["ftp", "ws", "", "https:"]) {
        const refusal = expect(() => formatForwardedOrigin(scheme, "mcp.example.com", 443), scheme).to.throw(InvalidRequest);
        refusal.with.property("description", "the request's scheme cannot be used for a resource URL");
        refusal.with.property("detail", `forwarded scheme '${scheme}'`);
      }
    });

    it("refuses hosts that are not a plain host", () => {
      for (const host of ["", "evil.example/mcp", "user@evil.example", "mcp example.com", "mcp.example.com\t", 'mcp"example.com', "mcp.example.com%22", "a\\b", "a?b", "a#b", "a<b", "[::1", "a\u0000b", "x,scope=admin", "a;b", "a=b", "a'b", "a(b)", "a!b", "a$b", "a&b", "a*b", "a+b", "a`b", "a\u200fb", "a:b:c", "a:123456"]) {
        const refusal = expect(() => formatForwardedOrigin("https", host, 443), JSON.stringify(host)).to.throw(InvalidRequest);
        refusal.with.property("description", "the request's Host cannot be used for a resource URL");
        refusal.with.property("detail", "forwarded host is not a plain host");
        refusal.with.property("status", 400);
      }
    });
  });
});
