import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { expect } from "chai";
import { listenOn } from "../../demo/http-server";
import { describeFetchError, postBoundedForm, readBoundedText } from "../../plugins/mcp-oauth2/core/outbound-http";
import { expectRejection } from "../support/error-assertions";

/** A server on 127.0.0.1 answering with `handle`, counting connections and the requests on each. */
async function startServer(handle: (request: IncomingMessage, response: ServerResponse, requestOnConnection: number) => void) {
  const perConnection = new Map<Socket, number>();
  const server: Server = createServer((request, response) => {
    const count = (perConnection.get(request.socket) ?? 0) + 1;
    perConnection.set(request.socket, count);
    request.resume();
    request.on("end", () => handle(request, response, count));
  });
  await listenOn(server, 0, "127.0.0.1");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`,
    connections: () => perConnection.size,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const post = (url: string, timeoutMs = 2_000) => ({ url, form: "token=abc", headers: { "content-type": "application/x-www-form-urlencoded" }, timeoutMs });

describe("outbound-http", () => {
  it("reuses one kept-alive connection for consecutive requests", async () => {
    const server = await startServer((_request, response) => response.end('{"active":false}'));
    try {
      for (let attempt = 0; attempt < 3; attempt++) expect(await postBoundedForm(post(server.url), 1024)).to.deep.equal({ status: 200, text: '{"active":false}' });
      expect(server.connections()).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it("replaces, once, a kept-alive connection the server drops as it is reused", async () => {
    const server = await startServer((request, response, requestOnConnection) => {
      if (requestOnConnection > 1) request.socket.destroy();
      else response.end("ok");
    });
    try {
      expect(await postBoundedForm(post(server.url), 1024)).to.deep.equal({ status: 200, text: "ok" });
      expect(await postBoundedForm(post(server.url), 1024)).to.deep.equal({ status: 200, text: "ok" });
      expect(server.connections()).to.equal(2);
    } finally {
      await server.close();
    }
  });

  it("does not follow a redirect: the 3xx is the answer", async () => {
    const server = await startServer((_request, response) => response.writeHead(307, { location: "http://127.0.0.1:9/elsewhere" }).end());
    try {
      expect(await postBoundedForm(post(server.url), 1024)).to.deep.equal({ status: 307, text: "" });
    } finally {
      await server.close();
    }
  });

  it("gives up after timeoutMs with a TimeoutError", async () => {
    const server = await startServer(() => undefined);
    try {
      const error = await expectRejection(postBoundedForm(post(server.url, 100), 1024), Error);
      expect(error.name).to.equal("TimeoutError");
    } finally {
      await server.close();
    }
  });

  it("refuses a body over the limit, declared or streamed, and serves the next request", async () => {
    const server = await startServer((request, response) => {
      if (request.url === "/introspect") response.end("x".repeat(2048));
      else {
        response.writeHead(200, { "transfer-encoding": "chunked" });
        response.write("x".repeat(800));
        response.write("x".repeat(800));
        response.end();
      }
    });
    try {
      for (const url of [server.url, server.url.replace("/introspect", "/chunked")]) {
        const error = await expectRejection(postBoundedForm(post(url), 1024), Error);
        expect(error.message, url).to.equal("is larger than 1024 bytes");
      }
      expect((await postBoundedForm(post(server.url), 4096)).text).to.have.length(2048);
    } finally {
      await server.close();
    }
  });

  it("reads web streams (fetch) too, and refuses text that is not UTF-8", async () => {
    expect(await readBoundedText(new Response("é").body, null, 10)).to.equal("é");
    expect(await readBoundedText(null, null, 10)).to.equal("");
    await expectRejection(readBoundedText(new Response(new Uint8Array([0xc3, 0x28])).body, "2", 10), TypeError);
    expect((await expectRejection(readBoundedText(new Response("12345").body, "5", 4), Error)).message).to.equal("is larger than 4 bytes");
  });

  it("refuses by the declared Content-Length alone, even for a shorter or empty body, and accepts exactly the limit", async () => {
    expect((await expectRejection(readBoundedText(new Response("1234").body, "5", 4), Error)).message).to.equal("is larger than 4 bytes");
    expect((await expectRejection(readBoundedText(null, "5", 4), Error)).message).to.equal("is larger than 4 bytes");
    expect(await readBoundedText(new Response("1234").body, "4", 4)).to.equal("1234");
  });

  it("names a timeout or an abort as such, and an error with its cause", () => {
    expect(describeFetchError(new DOMException("The operation was aborted due to timeout", "TimeoutError"), 250)).to.equal("timed out after 250 ms");
    expect(describeFetchError(new DOMException("This operation was aborted", "AbortError"), 250)).to.equal("timed out after 250 ms");
    expect(describeFetchError(new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") }), 250)).to.equal("fetch failed: connect ECONNREFUSED 127.0.0.1:9");
    expect(describeFetchError("text", 250)).to.equal("text");
  });

  it("POSTs the form with its length", async () => {
    const seen: string[] = [];
    const server = await startServer((request, response) => {
      seen.push(`${request.method} ${request.headers["content-length"]}`);
      response.end("ok");
    });
    try {
      expect(await postBoundedForm(post(server.url), 1024)).to.deep.equal({ status: 200, text: "ok" });
      expect(seen).to.deep.equal(["POST 9"]);
    } finally {
      await server.close();
    }
  });

  it("does not retry a connection reset on a new connection: only a reused one may have been closed before the request", async () => {
    const server = await startServer((request) => request.socket.destroy());
    try {
      const error = await expectRejection(postBoundedForm(post(server.url), 1024), Error);
      expect((error as NodeJS.ErrnoException).code).to.equal("ECONNRESET");
      expect(server.connections()).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it("speaks TLS to an https URL (a plain HTTP server cannot answer it)", async () => {
    const server = await startServer((_request, response) => response.end("ok"));
    try {
      const error = await expectRejection(postBoundedForm(post(server.url.replace("http:", "https:")), 1024), Error);
      expect((error as NodeJS.ErrnoException).code).to.equal("EPROTO");
      expect(server.connections()).to.equal(0);
    } finally {
      await server.close();
    }
  });
});
