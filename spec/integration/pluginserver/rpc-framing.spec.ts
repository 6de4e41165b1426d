import { expect } from "chai";
import { createConnection, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeMultiStream, encode } from "@msgpack/msgpack";
import { startDriverFixture, type DriverFixture } from "../../support/plugin-server-fixture";
import { echoConfig } from "../../support/test-plugins";

/** A raw msgpack-rpc connection to a plugin server's socket. */
class RawRpcConnection {
  private readonly replies: AsyncGenerator<unknown, void, unknown>;

  private constructor(readonly socket: Socket) {
    this.replies = decodeMultiStream(socket);
  }

  static open(socketPath: string): Promise<RawRpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(socketPath, () => resolve(new RawRpcConnection(socket)));
      socket.once("error", reject);
    });
  }

  async nextReply(): Promise<unknown[]> {
    const next = await this.replies.next();
    if (next.done === true) throw new Error("the plugin server closed the connection");
    return next.value as unknown[];
  }

  close(): void {
    this.socket.destroy();
  }
}

function request(messageId: number, method: string, params: unknown[]): Uint8Array {
  return encode([0, messageId, method, params]);
}

describe("our plugin server reads msgpack-rpc as a stream", () => {
  let fixture: DriverFixture;
  let connection: RawRpcConnection;

  before(async () => {
    fixture = await startDriverFixture("ours", "echo");
    connection = await RawRpcConnection.open(fixture.commands.socketPath);
  });
  after(async () => {
    connection?.close();
    await fixture?.close();
  });

  it("decodes a message split at every byte boundary", async function () {
    this.timeout(60_000);
    const config = JSON.stringify(echoConfig([], { answer: false, marker: "x".repeat(300) }));
    const calls: Array<[string, unknown[]]> = [
      ["plugin.GetPluginInfo", ["echo"]],
      ["plugin.StartInstance", [{ Name: "echo", Config: config }]],
    ];
    let messageId = 1;
    for (const [method, params] of calls) {
      for (let split = 1; ; split += 1) {
        const bytes = Buffer.from(request(messageId, method, params));
        if (split >= bytes.length) break;
        connection.socket.write(bytes.subarray(0, split));
        // Let the server read the first part on its own.
        await sleep(2);
        connection.socket.write(bytes.subarray(split));
        const [type, replyId, error] = await connection.nextReply();
        expect([type, replyId, error]).to.deep.equal([1, messageId, null]);
        messageId += 1;
      }
    }
  });

  it("decodes several messages in one chunk", async () => {
    connection.socket.write(Buffer.concat([101, 102, 103].map((id) => request(id, "plugin.GetPluginInfo", ["echo"]))));
    const replies = [await connection.nextReply(), await connection.nextReply(), await connection.nextReply()];
    expect(replies.map(([type, id, error]) => [type, id, error])).to.deep.equal([
      [1, 101, null],
      [1, 102, null],
      [1, 103, null],
    ]);
    expect((replies[0]?.[3] as { Name: string }).Name).to.equal("echo");
  });

  it("still serves Kong afterwards", async () => {
    fixture.driver.configureRoutes([{ id: "r", paths: ["/"] }]);
    expect(await fixture.driver.handle({ method: "GET", path: "/" })).to.include({ kind: "proceed" });
    expect(fixture.driver.serverPid).to.be.a("number");
  });
});

describe("the stock plugin server (defect, for comparison)", () => {
  it("dies when two messages arrive in one chunk", async () => {
    const fixture = await startDriverFixture("stock", "echo");
    try {
      const connection = await RawRpcConnection.open(fixture.commands.socketPath);
      const closed = new Promise<void>((resolve) => connection.socket.once("close", () => resolve()));
      connection.socket.write(Buffer.concat([1, 2].map((id) => request(id, "plugin.GetPluginInfo", ["echo"]))));
      await closed;
      expect(fixture.driver.serverStderr.join("\n")).to.include("Extra");
    } finally {
      await fixture.close();
    }
  });
});
