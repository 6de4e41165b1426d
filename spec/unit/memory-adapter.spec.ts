import { expect } from "chai";
import { createMemoryAdapterFactory } from "../../demo/memory-adapter";

describe("memory-adapter", () => {
  it("shares one store between the adapters of a factory, keyed by model", async () => {
    const adapterFor = createMemoryAdapterFactory();
    await adapterFor("Client").upsert("c1", { client_id: "c1" });
    expect(await adapterFor("Client").find("c1")).to.deep.equal({ client_id: "c1" });
    expect(await adapterFor("Session").find("c1")).to.equal(undefined);
    expect(await createMemoryAdapterFactory()("Client").find("c1")).to.equal(undefined);
  });

  it("forgets an entry once its lifetime is over", async () => {
    const adapter = createMemoryAdapterFactory()("Interaction");
    await adapter.upsert("gone", { kind: "Interaction" }, 0);
    await adapter.upsert("kept", { kind: "Interaction" }, 600);
    expect(await adapter.find("gone")).to.equal(undefined);
    expect(await adapter.find("kept")).to.deep.equal({ kind: "Interaction" });
  });

  it("finds a session by uid and marks a code consumed", async () => {
    const adapterFor = createMemoryAdapterFactory();
    await adapterFor("Session").upsert("s1", { uid: "u1", accountId: "a1" }, 600);
    await adapterFor("Grant").upsert("g1", { uid: "u1" }, 600);
    expect(await adapterFor("Session").findByUid("u1")).to.deep.equal({ uid: "u1", accountId: "a1" });
    expect(await adapterFor("Session").findByUid("u2")).to.equal(undefined);
    await adapterFor("AuthorizationCode").upsert("code1", { grantId: "g1" }, 60);
    await adapterFor("AuthorizationCode").consume("code1");
    expect((await adapterFor("AuthorizationCode").find("code1"))?.consumed).to.be.a("number");
  });

  it("revokes every entry of a grant and destroys single entries", async () => {
    const adapterFor = createMemoryAdapterFactory();
    await adapterFor("AuthorizationCode").upsert("code1", { grantId: "g1" }, 60);
    await adapterFor("AccessToken").upsert("at1", { grantId: "g1" }, 60);
    await adapterFor("AccessToken").upsert("at2", { grantId: "g2" }, 60);
    await adapterFor("AccessToken").revokeByGrantId("g1");
    expect(await adapterFor("AuthorizationCode").find("code1")).to.equal(undefined);
    expect(await adapterFor("AccessToken").find("at1")).to.equal(undefined);
    await adapterFor("AccessToken").destroy("at2");
    expect(await adapterFor("AccessToken").find("at2")).to.equal(undefined);
  });
});
