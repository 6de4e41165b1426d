import { expect } from "chai";
import { DEFAULT_STACK_PORTS, parsePort, parseStackOptions } from "../../demo/stack-options";

describe("stack-options", () => {
  it("defaults to 127.0.0.1 and the documented ports", () => {
    expect(parseStackOptions([], {})).to.deep.equal({
      host: "127.0.0.1",
      gatewayPort: DEFAULT_STACK_PORTS.gateway,
      authorizationServerPort: DEFAULT_STACK_PORTS.authorizationServer,
      mcpServerPort: DEFAULT_STACK_PORTS.mcpServer,
      verbose: false,
      keycloak: false,
      help: false,
    });
  });

  it("takes flags over environment variables over defaults", () => {
    const env = { MCP_OAUTH2_PORT: "9000", MCP_OAUTH2_AS_PORT: "9001", MCP_OAUTH2_MCP_PORT: "", MCP_OAUTH2_VERBOSE: "1", MCP_OAUTH2_KEYCLOAK: "1" };
    expect(parseStackOptions(["--port", "7000", "--host", "0.0.0.0"], env)).to.deep.include({
      host: "0.0.0.0",
      gatewayPort: 7000,
      authorizationServerPort: 9001,
      mcpServerPort: DEFAULT_STACK_PORTS.mcpServer,
      verbose: true,
      keycloak: true,
    });
    expect(parseStackOptions(["--keycloak"], {}).keycloak).to.equal(true);
  });

  it("names the setting that holds a bad port, and refuses unknown flags", () => {
    expect(() => parseStackOptions(["--as-port", "80a"], {})).to.throw('--as-port: "80a" is not a port number (0-65535)');
    expect(() => parseStackOptions([], { MCP_OAUTH2_MCP_PORT: "70000" })).to.throw('MCP_OAUTH2_MCP_PORT: "70000"');
    expect(() => parseStackOptions(["--gateway-port", "1"], {})).to.throw(/Unknown option '--gateway-port'/);
    expect(parsePort("0", "test")).to.equal(0);
  });
});
