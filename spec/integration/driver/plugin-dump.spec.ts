import { expect } from "chai";
import { KongDriver, PluginDumpError, queryPluginDump } from "../../../kong/driver";
import { preparePluginServer, startDriverFixture } from "../../support/plugin-server-fixture";

function nodePrinting(script: string): string[] {
  return [process.execPath, "-e", script];
}

describe("the query command, checked as Kong's start needs it", () => {
  it("accepts exactly one JSON array, with or without a trailing newline", async () => {
    const info = { Name: "x", Version: "1.0.0", Priority: 1, Phases: ["access"], Schema: { name: "x", fields: [] } };
    expect(await queryPluginDump(nodePrinting(`process.stdout.write(${JSON.stringify(JSON.stringify([info]))})`))).to.deep.equal([info]);
    expect(await queryPluginDump(nodePrinting(`console.log(${JSON.stringify(JSON.stringify([info]))})`))).to.deep.equal([info]);
  });

  it("refuses anything else on stdout, a failing command and a plugin Kong would refuse", async () => {
    const failures: Array<[string[], string]> = [
      [nodePrinting("console.log('[]'); console.log('[]')"), "not valid JSON"],
      [nodePrinting("console.log('warning: x'); console.log('[]')"), "not exactly one JSON array"],
      [nodePrinting("process.exit(3)"), "exited with 3"],
      [nodePrinting("console.log(JSON.stringify([{Name: 'x', Version: 'v1', Priority: 1, Phases: [], Schema: {fields: []}}]))"), "VERSION"],
      [nodePrinting("console.log(JSON.stringify([{Name: 'x', Version: '1.0.0', Priority: 1.5, Phases: [], Schema: {fields: []}}]))"), "PRIORITY"],
    ];
    for (const [command, message] of failures) {
      let error: unknown;
      await queryPluginDump(command).catch((caught: unknown) => (error = caught));
      expect(error).to.be.instanceOf(PluginDumpError);
      expect((error as Error).message).to.include(message);
    }
  });

  it("stock plugin server: a plugin printing at import breaks the dump, and the driver says so", async () => {
    const setup = preparePluginServer("stock", "printing");
    try {
      let error: unknown;
      await KongDriver.start(setup.commands).catch((caught: unknown) => (error = caught));
      expect(error).to.be.instanceOf(PluginDumpError);
      expect((error as Error).message).to.include("not exactly one JSON array").and.include("printing plugin loaded");
    } finally {
      setup.remove();
    }
  });

  it("our plugin server: the same plugin's line goes to stderr and the dump stays clean", async () => {
    const fixture = await startDriverFixture("ours", "printing");
    try {
      expect(fixture.driver.plugin.Name).to.equal("printing");
      expect(fixture.driver.serverStderr).to.include("printing plugin loaded");
      expect(fixture.driver.serverStdout).to.deep.equal([]);
    } finally {
      await fixture.close();
    }
  });
});
