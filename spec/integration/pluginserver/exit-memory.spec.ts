import { expect } from "chai";
import type { PluginServerImplementation } from "../../../kong/driver";
import { readResidentMemoryMiB, sendRequests } from "../../bench/load-driver";
import { startDriverFixture } from "../../support/plugin-server-fixture";
import type { EchoStep } from "../../support/test-plugins";
import { routeToEcho } from "../echo-route";

const REJECTIONS = 100_000;
// V8 grows its young generation to its working size (32 MiB of semi-spaces) during the first
// ~150,000 requests at this rate while the live heap stays near 5 MB (--trace-gc): warm up past it,
// so that the window measures what the requests leave behind.
const WARM_UP = 150_000;
const CONCURRENCY = 16;

/** RSS growth of the plugin server over 100,000 requests that end in kong.response.exit (401). */
async function measureRejectionGrowthMiB(implementation: PluginServerImplementation): Promise<{ before: number; after: number }> {
  const fixture = await startDriverFixture(implementation, "echo");
  try {
    const steps: EchoStep[] = [["kong.response.exit", 401, "", { "WWW-Authenticate": 'Bearer resource_metadata="x"' }]];
    routeToEcho(fixture.driver, steps, { answer: false });
    const request = { method: "POST", path: "/mcp", headers: [["Authorization", "Bearer invalid"]] as Array<[string, string]> };
    const pid = fixture.driver.serverPid as number;
    await sendRequests(fixture.driver, request, WARM_UP, CONCURRENCY);
    const before = await readResidentMemoryMiB(pid);
    await sendRequests(fixture.driver, request, REJECTIONS, CONCURRENCY);
    const after = await readResidentMemoryMiB(pid);
    const outcome = await fixture.driver.handle(request);
    expect(outcome).to.include({ kind: "exit", status: 401 });
    return { before, after };
  } finally {
    await fixture.close();
  }
}

describe("plugin server memory under 100,000 rejected requests", function () {
  this.timeout(300_000);

  it("ours grows its RSS by less than 20 MiB (the stock server's growth is printed for comparison)", async () => {
    const ours = await measureRejectionGrowthMiB("ours");
    const stock = await measureRejectionGrowthMiB("stock");
    for (const [name, { before, after }] of [["ours", ours], ["stock", stock]] as const) {
      console.log(`      ${name}: RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MiB (+${(after - before).toFixed(1)} MiB) over ${REJECTIONS} rejections`);
    }
    expect(ours.after - ours.before).to.be.lessThan(20);
  });
});
