import { expect } from "chai";
import { KongDriver, type RouteDefinition } from "../../../kong/driver";
import {
  PLUGIN_SERVER_IMPLEMENTATIONS,
  readEchoAnswer,
  startDriverFixture,
  type DriverFixture,
} from "../../support/plugin-server-fixture";
import { echoConfig } from "../../support/test-plugins";

function markedRoute(id: string, marker: string): RouteDefinition {
  return { id, paths: [`/${id}`], plugins: [{ id: `plugin-on-${id}`, config: echoConfig([], { marker }) }] };
}

async function markerFor(driver: KongDriver, routeId: string): Promise<string> {
  return readEchoAnswer(await driver.handle({ method: "GET", path: `/${routeId}` })).marker;
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`plugin instances as Kong manages them (${implementation} plugin server)`, () => {
    let fixture: DriverFixture;

    beforeEach(async () => {
      fixture = await startDriverFixture(implementation, "echo");
    });
    afterEach(() => fixture?.close());

    it("sends the full config with Kong's extra keys in StartInstance", async () => {
      fixture.driver.configureRoutes([{ ...markedRoute("a", "first"), serviceId: "service-1" }]);
      const answer = readEchoAnswer(await fixture.driver.handle({ method: "GET", path: "/a" }));
      expect(answer.config).to.include({
        marker: "first",
        route_id: "a",
        service_id: "service-1",
        __plugin_id: "plugin-on-a",
        __seq__: 1,
        __key__: "plugins:echo:a:service-1:::00000000-0000-4000-8000-000000000000",
      });
    });

    it("a config change starts a new instance, then closes the old one", async () => {
      fixture.driver.configureRoutes([markedRoute("a", "first")]);
      expect(await markerFor(fixture.driver, "a")).to.equal("first");
      expect(await markerFor(fixture.driver, "a")).to.equal("first");
      fixture.driver.configureRoutes([markedRoute("a", "second")]);
      expect(await markerFor(fixture.driver, "a")).to.equal("second");
      const [firstStart, secondStart, close, ...rest] = fixture.driver.instanceEvents;
      expect(rest).to.deep.equal([]);
      expect(firstStart).to.deep.include({ kind: "started", pluginId: "plugin-on-a", seq: 1 });
      expect(secondStart).to.deep.include({ kind: "started", pluginId: "plugin-on-a", seq: 2 });
      expect(close).to.deep.equal({ kind: "closed", pluginId: "plugin-on-a", instanceId: firstStart?.kind === "started" ? firstStart.instanceId : -1 });
    });

    it("after a server restart, 'no plugin instance' resets the instances and the event runs again", async () => {
      fixture.driver.configureRoutes([markedRoute("a", "first")]);
      expect(await markerFor(fixture.driver, "a")).to.equal("first");
      await fixture.driver.restartServer();
      const outcome = await fixture.driver.handle({ method: "GET", path: "/a" });
      expect(readEchoAnswer(outcome).marker).to.equal("first");
      expect(outcome.retriedAfterNoPluginInstance).to.equal(true);
      expect(fixture.driver.instanceEvents.map(({ kind }) => kind)).to.deep.equal(["started", "reset", "started"]);
    });
  });
}

describe("instance ids across a plugin server restart, with two Kong workers", () => {
  // Worker 1 starts the server; worker 2 only connects to it, as a second nginx worker does. Each
  // keeps its own instance ids. After a restart, worker 2 restarts its instance first; the reset
  // event that would tell worker 1 is asynchronous in Kong, so worker 1 still uses its old id.
  async function markerSeenByWorkerOne(implementation: "ours" | "stock"): Promise<{ marker: string; retried: boolean }> {
    const fixture = await startDriverFixture(implementation, "echo");
    const routes = [markedRoute("a", "route-a config"), markedRoute("b", "route-b config")];
    const workerTwo = await KongDriver.start({ queryCommand: fixture.commands.queryCommand, socketPath: fixture.commands.socketPath, routes });
    try {
      fixture.driver.configureRoutes(routes);
      expect(await markerFor(fixture.driver, "a")).to.equal("route-a config");
      expect(await markerFor(workerTwo, "b")).to.equal("route-b config");
      await fixture.driver.restartServer();
      expect(await markerFor(workerTwo, "b")).to.equal("route-b config");
      const outcome = await fixture.driver.handle({ method: "GET", path: "/a" });
      return { marker: readEchoAnswer(outcome).marker, retried: outcome.retriedAfterNoPluginInstance };
    } finally {
      await workerTwo.close();
      await fixture.close();
    }
  }

  it("ours: the old id names no instance, so the request on route a restarts its own instance", async () => {
    expect(await markerSeenByWorkerOne("ours")).to.deep.equal({ marker: "route-a config", retried: true });
  });

  it("stock (defect): ids restart at 0, so the request on route a runs under route b's config", async () => {
    expect(await markerSeenByWorkerOne("stock")).to.deep.equal({ marker: "route-b config", retried: false });
  });
});
