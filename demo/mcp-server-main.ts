import { startMcpServer } from "./mcp-server";
import { DEFAULT_STACK_PORTS, parsePort } from "./stack-options";
import { stopOnSignal } from "./stop-on-signal";

/**
 * Runs the demo MCP server alone, as the upstream of a real Kong (docker-compose.yml): listens on
 * MCP_DEMO_HOST (default 127.0.0.1) and MCP_DEMO_PORT (default 3001).
 */
async function main(): Promise<void> {
  const port = parsePort(process.env.MCP_DEMO_PORT ?? String(DEFAULT_STACK_PORTS.mcpServer), "MCP_DEMO_PORT");
  const server = await startMcpServer({ host: process.env.MCP_DEMO_HOST, port });
  console.log(`demo MCP server: ${server.url} (no authentication of its own: put it behind the gateway)`);
  stopOnSignal(() => server.close(), (line) => console.log(line));
}

main().catch((error: unknown) => {
  console.error(`demo MCP server failed to start: ${String(error)}`);
  process.exit(1);
});
