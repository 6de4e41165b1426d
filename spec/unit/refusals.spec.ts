import { expect } from "chai";
import { formatOperatorLog, MetadataMethodNotAllowed, ProtocolUpgradeRefused } from "../../plugins/mcp-oauth2/core/refusals";

describe("refusals", () => {
  it("writes controls, line separators and bidirectional controls of a log line as \\xNN and \\uNNNN", () => {
    const log = formatOperatorLog("notice", "a\r\nb\x00\x1b\x7f\x85\x9f\u00a0\u2028\u2029\u202e\u2066c\u00ff");
    expect(log).to.deep.equal({ level: "notice", message: "mcp-oauth2: a\\x0d\\x0ab\\x00\\x1b\\x7f\\x85\\x9f\u00a0\\u2028\\u2029\\u202e\\u2066c\u00ff" });
  });

  it("writes every bidirectional control and every default-ignorable character as \\uNNNN (\\u{NNNNN} past U+FFFF)", () => {
    const log = formatOperatorLog("notice", "a\u200fb\u200ec\u061cd\u200be\u200df\ufeffg\u00adh\u{e0041}i");
    expect(log.message).to.equal("mcp-oauth2: a\\u200fb\\u200ec\\u061cd\\u200be\\u200df\\ufeffg\\u00adh\\u{e0041}i");
  });

  it("cuts a log line to 2,000 characters, the plugin's name included", () => {
    const { message } = formatOperatorLog("warn", "x".repeat(5000));
    expect(message).to.have.length(2000);
    expect(message.endsWith("x...")).to.equal(true);
  });

  it("quotes what the client sent in the operator's detail", () => {
    expect(new ProtocolUpgradeRefused("websocket").detail).to.equal('Upgrade "websocket" refused: the ACL could not see what follows it');
    expect(new MetadataMethodNotAllowed()).to.include({ status: 405, errorCode: "method_not_allowed" });
  });
});
