import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";
import { listenOn } from "../../demo/http-server";

/** How the JWKS endpoint misbehaves, for fault tests. */
export type JwksFault = { kind: "status"; status: number } | { kind: "body"; body: string } | { kind: "delay"; ms: number };

/**
 * A real JWKS endpoint on 127.0.0.1: serves the current keys at /.well-known/jwks.json (and any
 * path), counts requests, records the Accept header asked for, and can be made to fail. Closes its sockets on close().
 */
export class JwksServer {
  keys: JWK[] = [];
  fault: JwksFault | undefined;
  requestCount = 0;
  /** The Accept header of the last request (undefined when it had none). */
  lastAccept: string | undefined;
  private readonly server: Server;
  private port = 0;

  private constructor(keys: JWK[]) {
    this.keys = keys;
    this.server = createServer((request, response) => {
      this.requestCount++;
      this.lastAccept = request.headers.accept;
      const fault = this.fault;
      const answer = () => {
        if (fault?.kind === "status") response.writeHead(fault.status).end("failure");
        else if (fault?.kind === "body") response.writeHead(200, { "content-type": "application/json" }).end(fault.body);
        else response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: this.keys }));
      };
      if (fault?.kind === "delay") {
        const timer = setTimeout(answer, fault.ms);
        request.socket.once("close", () => clearTimeout(timer));
      } else answer();
    });
  }

  static async start(keys: JWK[] = []): Promise<JwksServer> {
    const jwks = new JwksServer(keys);
    await listenOn(jwks.server, 0, "127.0.0.1");
    jwks.port = (jwks.server.address() as AddressInfo).port;
    return jwks;
  }

  /** Base URL, e.g. http://127.0.0.1:40123 (use as an authorization server `url`); still known after close(). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get jwksUri(): string {
    return `${this.url}/.well-known/jwks.json`;
  }

  /** Stops serving; closing again is harmless (a test may take the server down before `after` closes it). */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
