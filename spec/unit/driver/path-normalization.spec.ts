import { expect } from "chai";
import { escapePathForUpstream, normalizePath } from "../../../kong/driver/path-normalization";

describe("normalizePath (kong.request.get_path)", () => {
  it("normalizes Kong's documented example: decodes unreserved and other bytes, upper-cases reserved escapes", () => {
    const raw = "/t/Abc%20123%C3%B8%2f/parent/..//test/./";
    expect(Buffer.from(normalizePath(raw), "latin1").toString("utf8")).to.equal("/t/Abc 123ø%2F/test/");
  });

  it("removes dot segments, including percent-encoded dots", () => {
    expect(normalizePath("/a/b/../c")).to.equal("/a/c");
    expect(normalizePath("/a/%2e%2E/c")).to.equal("/c");
    expect(normalizePath("/../../x")).to.equal("/x");
    expect(normalizePath("/a/.")).to.equal("/a/");
  });

  it("merges slashes only when asked", () => {
    expect(normalizePath("//mcp///x")).to.equal("/mcp/x");
    expect(normalizePath("//mcp///x", false)).to.equal("//mcp///x");
  });

  it("keeps reserved characters encoded so /mcp%2F..%2Fadmin stays one segment", () => {
    expect(normalizePath("/mcp%2f..%2fadmin")).to.equal("/mcp%2F..%2Fadmin");
  });

  it("leaves the empty path and the root alone", () => {
    expect(normalizePath("")).to.equal("");
    expect(normalizePath("/")).to.equal("/");
  });
});

describe("escapePathForUpstream", () => {
  it("percent-encodes spaces and non-ASCII bytes and keeps reserved characters and escapes", () => {
    expect(escapePathForUpstream("/a b/\xc3\xb8/%2F;x=1")).to.equal("/a%20b/%C3%B8/%2F;x=1");
  });
});
