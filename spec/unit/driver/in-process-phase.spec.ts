import { expect } from "chai";
import { runAccessPhaseInProcess } from "../../../kong/driver";

/** The PDK calls a test handler makes: kong-pdk's bridge object, typed loosely. */
type Kong = Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> & { service: { request: Record<string, (...args: unknown[]) => Promise<unknown>> } };

describe("runAccessPhaseInProcess (a handler on kong-pdk's bridge, answered by the driver's PDK emulation)", () => {
  it("answers as Kong through msgpack: header arrays, the body as bytes, nil as undefined; exit ends the phase", async () => {
    const seen: unknown[] = [];
    const phase = await runAccessPhaseInProcess(
      async (pdk) => {
        const kong = pdk as Kong;
        seen.push(await kong.request.get_headers(10), await kong.request.get_raw_body(0), await kong.request.get_header("x-absent"));
        await kong.service.request.set_header("X-Seen", "yes");
        return kong.response.exit(418, "teapot", { "Content-Type": "text/plain" });
      },
      { method: "POST", path: "/mcp", headers: [["A", "1"], ["a", "2"]], body: "{}" },
    );
    expect(seen).to.deep.equal([{ a: ["1", "2"] }, new Uint8Array(Buffer.from("{}")), undefined]);
    expect(phase.ending.kind === "exit" && [phase.ending.response.status, phase.ending.response.body.toString()]).to.deep.equal([418, "teapot"]);
    expect(phase.state.headers).to.deep.include(["X-Seen", "yes"]);
    expect(phase.pdkCalls.map(({ method }) => method)).to.deep.equal([
      "kong.request.get_headers",
      "kong.request.get_raw_body",
      "kong.request.get_header",
      "kong.service.request.set_header",
      "kong.response.exit",
    ]);
  });

  it("rejects a PDK call after kong.response.exit, which Kong would never answer", async () => {
    let error: unknown;
    try {
      await runAccessPhaseInProcess(async (pdk) => {
        const kong = pdk as Kong;
        await kong.response.exit(401, "", {});
        await kong.request.get_path();
      }, { method: "GET", path: "/mcp" });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error).with.property("message", "PDK call kong.request.get_path after kong.response.exit: Kong would never answer it");
  });

  it("ends with Kong's Lua error where Kong raises, and logs a method Kong does not have", async () => {
    const phase = await runAccessPhaseInProcess(async (pdk) => {
      const kong = pdk as Kong;
      await kong.request.no_such_method();
      await kong.request.get_headers(5000);
    }, { method: "GET", path: "/mcp" });
    expect(phase.ending).to.deep.equal({ kind: "lua-error", message: "max_headers must be <= 1000" });
    expect(phase.unknownPdkCalls).to.deep.equal(["kong.request.no_such_method"]);
    expect(phase.state.logs).to.deep.include({ level: "err", message: "could not find pdk method: kong.request.no_such_method", source: "kong" });
  });
});
