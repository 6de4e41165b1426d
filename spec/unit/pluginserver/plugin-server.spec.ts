import { expect } from "chai";
import type { Instance } from "kong-pdk/lib/mod";
import { PluginServer, type LoadedPlugin } from "../../../kong/pluginserver/plugin-server";
import type { Logger } from "../../../kong/pluginserver/stderr-logger";
import { expectRejection } from "../../support/error-assertions";

type Kong = { request: { get_header(name: string): Promise<unknown> }; response: { exit(status: number): Promise<void> } };
type Mode = "exit" | "ret" | "header" | "throw";

/** A plugin as kong-pdk's Module would present it, whose access phase follows config.mode. */
function createFakePlugin(exports: Record<string, unknown> = {}): LoadedPlugin {
  const access = async (mode: Mode, kong: Kong): Promise<void> => {
    if (mode === "exit") return kong.response.exit(401);
    if (mode === "header") await kong.request.get_header("x-probe");
    if (mode === "throw") throw new Error("boom");
  };
  return {
    name: "fake",
    mod: exports,
    new: (config: unknown): Instance => {
      const { mode } = config as { mode: Mode };
      return {
        name: "fake",
        close: () => undefined,
        executePhase: (_phase: string, kong: unknown) => access(mode, kong as Kong),
        getName: () => "fake",
        getConfig: () => config,
        getStartTime: () => 0,
        resetExpireTs: () => undefined,
      };
    },
    getPhases: () => ["access"],
    getPriority: () => 1,
    getVersion: () => "1.0.0",
    getSchema: () => [],
    getMTime: () => 0,
    getLoadTime: () => 0,
    getLastStartInstanceTime: () => 0,
    getLastCloseInstanceTime: () => 0,
  };
}

describe("PluginServer (our plugin server's RPC methods)", () => {
  const warnings: string[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (line) => warnings.push(line), error: () => undefined };
  let server: PluginServer;

  beforeEach(() => {
    server = new PluginServer(new Map([["fake", createFakePlugin()]]), logger, { idBase: 5000 });
  });
  afterEach(() => server.close());

  async function startInstance(mode: Mode): Promise<number> {
    const status = (await server.methods["StartInstance"]?.({ Name: "fake", Config: JSON.stringify({ mode }) })) as { Id: number };
    return status.Id;
  }

  async function handleEvent(instanceId: number): Promise<{ Data: unknown; EventId: number }> {
    return (await server.methods["HandleEvent"]?.({ InstanceId: instanceId, EventName: "access" })) as { Data: unknown; EventId: number };
  }

  it("dumps only the config record for a plugin that exports no Protocols, as the stock server does", () => {
    expect(server.getPluginInfo("fake")).to.deep.equal({
      Name: "fake",
      Version: "1.0.0",
      Phases: ["access"],
      Priority: 1,
      Schema: { name: "fake", fields: [{ config: { type: "record", fields: [] } }] },
    });
  });

  it("narrows the plugin entity's protocols to an exported Protocols list, so the field defaults to it and cannot be empty", () => {
    const narrowed = new PluginServer(new Map([["fake", createFakePlugin({ Protocols: ["http", "https"] })]]), logger, { idBase: 1 });
    const { fields } = (narrowed.getPluginInfo("fake") as { Schema: { fields: Array<Record<string, Record<string, unknown>>> } }).Schema;
    narrowed.close();
    expect(fields.map((field) => Object.keys(field)[0])).to.deep.equal(["protocols", "config"]);
    expect(fields[0]!["protocols"]).to.deep.include({ type: "set", required: true, len_min: 1, default: ["http", "https"] });
    expect(fields[0]!["protocols"]!["elements"]).to.deep.include({ type: "string", one_of: ["http", "https"] });
  });

  it("numbers instances from its id base", async () => {
    expect(await startInstance("ret")).to.equal(5000);
    expect(await startInstance("ret")).to.equal(5001);
  });

  it("forgets an event that ends with kong.response.exit (Kong never answers it)", async () => {
    const reply = await handleEvent(await startInstance("exit"));
    expect(reply.Data).to.deep.equal({ Method: "kong.response.exit", Args: [401] });
    expect(server.pendingEventCount).to.equal(0);
  });

  it("forgets an event that returns at once", async () => {
    expect((await handleEvent(await startInstance("ret"))).Data).to.equal("ret");
    expect(server.pendingEventCount).to.equal(0);
  });

  it("keeps an event while Kong runs a PDK call, and forgets it at ret", async () => {
    const reply = await handleEvent(await startInstance("header"));
    expect(reply.Data).to.deep.equal({ Method: "kong.request.get_header", Args: ["x-probe"] });
    expect(server.pendingEventCount).to.equal(1);
    const last = (await server.methods["StepMultiMap"]?.({ EventId: reply.EventId, Data: "value" })) as { Data: unknown };
    expect(last.Data).to.equal("ret");
    expect(server.pendingEventCount).to.equal(0);
  });

  it("forgets an event Kong stopped answering, after the abandoned-event delay only", async () => {
    const reply = await handleEvent(await startInstance("header"));
    server.forgetAbandonedEvents(Date.now() + 60_000);
    expect(server.pendingEventCount).to.equal(1);
    server.forgetAbandonedEvents(Date.now() + 10 * 60_000 + 1);
    expect(server.pendingEventCount).to.equal(0);
    const late = await expectRejection(server.methods["Step"]?.({ EventId: reply.EventId, Data: "late" }), Error);
    expect(late.message).to.equal(`event id ${reply.EventId} not found`);
  });

  it("answers 'no plugin instance' for an unknown id, as Kong expects", async () => {
    expect((await expectRejection(handleEvent(42), Error)).message).to.equal("no plugin instance #42");
  });

  it("replies ret after a phase exception and logs it", async () => {
    expect((await handleEvent(await startInstance("throw"))).Data).to.equal("ret");
    expect(warnings.at(-1)).to.match(/^unhandled exception in fake\.access on instance #\d+: Error: boom$/);
  });

  it("starts its ids at a random base, so ids from a previous process do not name new instances", async () => {
    const firstIds: number[] = [];
    for (let process = 0; process < 2; process += 1) {
      const freshServer = new PluginServer(new Map([["fake", createFakePlugin()]]), logger);
      const status = (await freshServer.methods["StartInstance"]?.({ Name: "fake", Config: "{}" })) as { Id: number };
      freshServer.close();
      firstIds.push(status.Id);
    }
    expect(firstIds[0]).to.not.equal(firstIds[1]);
    expect(firstIds.every(Number.isSafeInteger)).to.equal(true);
  });
});
