// Prints requests/s of trivial plugins through the driver, concurrency 16, for both plugin servers.
// Run: npm run build && npx tsx spec/bench/driver-throughput.ts
import { startDriverFixture } from "../support/plugin-server-fixture";
import { echoConfig, type EchoStep } from "../support/test-plugins";
import { sendRequests } from "./load-driver";

const TOTAL = 50_000;
const CONCURRENCY = 16;

const SCENARIOS: Array<[string, EchoStep[]]> = [
  ["no PDK call, proceeds (1 round trip)", []],
  ["kong.response.exit (1 round trip)", [["kong.response.exit", 401, "", { "WWW-Authenticate": "Bearer" }]]],
  ["get_header + ctx.shared.set, proceeds (3 round trips)", [["kong.request.get_header", "authorization"], ["kong.ctx.shared.set", "mcp_oauth2", { subject: "s" }]]],
];

async function main(): Promise<void> {
  for (const implementation of ["ours", "stock"] as const) {
    for (const [label, steps] of SCENARIOS) {
      const fixture = await startDriverFixture(implementation, "echo");
      try {
        fixture.driver.configureRoutes([{ id: "r", paths: ["/"], plugins: [{ id: "p", config: echoConfig(steps, { answer: false }) }] }]);
        const request = { method: "POST", path: "/mcp", headers: [["Authorization", "Bearer x"]] as [string, string][] };
        await sendRequests(fixture.driver, request, 2_000, CONCURRENCY);
        const rate = await sendRequests(fixture.driver, request, TOTAL, CONCURRENCY);
        console.log(`${implementation.padEnd(5)} ${label.padEnd(55)} ${Math.round(rate)} requests/s`);
      } finally {
        await fixture.close();
      }
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
