import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { skipBecause } from "../support/skip-suite";
import { REPOSITORY_ROOT } from "./deploy-files";

const runFile = promisify(execFile);

describe("docker: docker-compose.yml", () => {
  before(async function () {
    // `docker-compose config` only parses and validates: it needs no container engine.
    const available = await runFile("docker-compose", ["version"]).then(
      () => true,
      () => false,
    );
    if (!available) skipBecause(this, "docker-compose is not installed (apt-get install docker-compose) to validate docker-compose.yml");
  });

  it("is a valid compose file (docker-compose config -q)", async () => {
    const { stdout, stderr } = await runFile("docker-compose", ["--file", "docker-compose.yml", "config", "--quiet"], { cwd: REPOSITORY_ROOT });
    expect(stdout).to.equal("");
    expect(stderr).to.equal("");
  });
});
