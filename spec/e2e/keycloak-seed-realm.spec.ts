import { expect } from "chai";
import { findImportProblems } from "../../kong/keycloak/keycloak-server";
import { findSeedClient, findSeedClientScope } from "../../kong/keycloak/seed-realm";
import { useKeycloakGateway, useSeededKeycloak } from "../support/keycloak-fixture";
import { describeRealmThroughGate } from "../support/keycloak-realm-checks";

/** What the seed realm's Audience mappers write: the public MCP URL of docker-compose.yml. */
const SEED_AUDIENCE = findSeedClientScope("mcp:tools").protocolMappers?.find((mapper) => mapper.protocolMapper === "oidc-audience-mapper")?.config?.["included.custom.audience"] as string;

describe("Keycloak for real: the seed realm kong/keycloak/realm-mcp.json", () => {
  it("imports unmodified, without a warning or an error", async function () {
    const keycloak = await useSeededKeycloak(this);
    expect(findImportProblems(keycloak.output)).to.deep.equal([]);
    expect(keycloak.output.some((line) => line.includes("Realm 'mcp' imported"))).to.equal(true);
  });

  describe("through the gate (driver + our plugin server, configured as the README's Keycloak section)", () => {
    describeRealmThroughGate(async (context) => ({
      realm: { keycloak: await useSeededKeycloak(context), realm: "mcp", audience: SEED_AUDIENCE, machineClientSecret: findSeedClient("mcp-machine").secret as string },
      gateway: await useKeycloakGateway(),
    }));
  });
});
