import { expect } from "chai";
import { NATIVE_GUARD_BODY, type KongDriver, type Outcome } from "../../../kong/driver";
import { PLUGIN_SERVER_IMPLEMENTATIONS, startDriverFixture, type DriverFixture } from "../../support/plugin-server-fixture";
import { routeToEcho } from "../echo-route";

function request(driver: KongDriver): Promise<Outcome> {
  return driver.handle({ method: "POST", path: "/mcp", headers: [["Authorization", "Bearer not-checked"]] });
}

function serverOutput(driver: KongDriver): string {
  return [...driver.serverStdout, ...driver.serverStderr].join("\n");
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`Kong fails open when the plugin conversation fails (${implementation} plugin server)`, () => {
    let fixture: DriverFixture;

    beforeEach(async () => {
      fixture = await startDriverFixture(implementation, "echo", { callTimeoutMs: 500 });
    });
    afterEach(() => fixture?.close());

    it("a phase exception: the server logs it and replies ret, so Kong proxies the request unverified", async () => {
      routeToEcho(fixture.driver, [["throw", "plugin bug"]], { answer: false });
      const outcome = await request(fixture.driver);
      expect(outcome).to.include({ kind: "proceed", verified: false, failOpen: undefined });
      expect(serverOutput(fixture.driver)).to.include("unhandled exception in echo.access");
    });

    it("an uncaught exception kills the server mid-event: no data, proxied", async () => {
      routeToEcho(fixture.driver, [["crash", "stray async error"]], { answer: false });
      const outcome = await request(fixture.driver);
      expect(outcome).to.deep.include({ kind: "proceed", verified: false });
      expect(outcome.failOpen?.cause).to.equal("no data");
    });

    it("a call past the timeout: proxied", async () => {
      routeToEcho(fixture.driver, [["sleep", 2000]], { answer: false });
      const outcome = await request(fixture.driver);
      expect(outcome).to.deep.include({ kind: "proceed", verified: false });
      expect(outcome.failOpen?.cause).to.equal("timeout");
    });

    it("a killed server: proxied once the instance exists, Kong's 500 when it must still be started", async () => {
      routeToEcho(fixture.driver, [["kong.log.info", "ok"]], { answer: false });
      expect(await request(fixture.driver)).to.include({ kind: "proceed", failOpen: undefined });
      await fixture.driver.killServer();
      const afterKill = await request(fixture.driver);
      expect(afterKill).to.deep.include({ kind: "proceed", verified: false });
      // A pooled connection may not have seen the close yet (as in Kong): "no data" then, else "connect".
      expect(["connect", "no data"]).to.include(afterKill.failOpen?.cause);

      routeToEcho(fixture.driver, [["kong.log.info", "new config"]], { answer: false });
      expect(await request(fixture.driver)).to.include({ kind: "exit", source: "kong", status: 500 });
    });
  });
}

describe("the native guard (a post-function refusing unverified requests)", () => {
  let fixture: DriverFixture;

  before(async () => {
    fixture = await startDriverFixture("stock", "echo", { nativeGuard: true });
  });
  after(() => fixture?.close());

  it("turns a fail-open into a 503", async () => {
    routeToEcho(fixture.driver, [["throw", "plugin bug"]], { answer: false });
    const outcome = await request(fixture.driver);
    expect(outcome).to.deep.include({ kind: "exit", source: "native-guard", status: 503, guardFired: true, verified: false });
    expect(outcome).to.deep.include({
      headers: [["Retry-After", "5"], ["Content-Type", "application/json; charset=utf-8"], ["Content-Length", "96"]],
    });
    expect(outcome.kind === "exit" && JSON.parse(outcome.body.toString())).to.deep.equal(NATIVE_GUARD_BODY);
  });

  it("lets a verified request through", async () => {
    routeToEcho(fixture.driver, [["kong.ctx.shared.set", "mcp_oauth2", { subject: "alice" }]], { answer: false });
    expect(await request(fixture.driver)).to.include({ kind: "proceed", verified: true, guardFired: false });
  });
});
