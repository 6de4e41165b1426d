import { expect } from "chai";
import { InvalidJsonRpc } from "../../plugins/mcp-oauth2/core/refusals";
import { readResourceUri } from "../../plugins/mcp-oauth2/core/resource-uri";

describe("resource-uri", () => {
  it("refuses each spelling that resolves to another resource, with -32602", () => {
    for (const uri of ["file:///srv/public/../secret", "file:///srv/public/%2E%2e/secret", "file:///srv/public\\..\\secret", "https://h/public/\n../secret", "file:///srv/public/a%2Fb", "https://h/a/."]) {
      expect(() => readResourceUri(uri), JSON.stringify(uri)).to.throw(InvalidJsonRpc).with.property("jsonRpcCode", -32602);
    }
  });

  it("does not mistake dots inside a segment for a dot segment", () => {
    for (const uri of ["file:///srv/public/..hidden", "file:///srv/public/a..", "file:///srv/public/.env", "https://h/v1.2/x"]) {
      expect(readResourceUri(uri), uri).to.deep.equal({ uri });
    }
  });

  it("gives the WHATWG serialization beside the URI when they differ", () => {
    expect(readResourceUri("HTTPS://H:443/x")).to.deep.equal({ uri: "HTTPS://H:443/x", resolved: "https://h/x" });
    expect(readResourceUri("https://0x7f.0.0.1/x")).to.deep.equal({ uri: "https://0x7f.0.0.1/x", resolved: "https://127.0.0.1/x" });
    expect(readResourceUri("file:///srv/public/caf\u00e9")).to.deep.equal({ uri: "file:///srv/public/caf\u00e9", resolved: "file:///srv/public/caf%C3%A9" });
  });

  it("keeps what a WHATWG parser cannot read as it was sent", () => {
    expect(readResourceUri("relative/path")).to.deep.equal({ uri: "relative/path" });
  });
});
