import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { listenOn, readRequestBody } from "../../demo/http-server";

/** How the introspection endpoint misbehaves, for fault tests. */
export type IntrospectionFault =
  | { kind: "status"; status: number; body?: string }
  | { kind: "body"; body: string }
  /** Answers late: every request, or (unknownOnly) only those about tokens it would answer inactive. */
  | { kind: "delay"; ms: number; unknownOnly?: boolean }
  | { kind: "redirect"; location: string };

/** The last request the endpoint received: what the gate sent besides the token. */
export interface ReceivedIntrospection {
  readonly headers: IncomingHttpHeaders;
  readonly form: URLSearchParams;
}

const MAX_FORM_BYTES = 64 * 1024;
export const INTROSPECTION_PATH = "/introspect";

/**
 * A real RFC 7662 introspection endpoint on 127.0.0.1 at /introspect: answers `active: true` with
 * the claims of the tokens it has issued, `active: false` for anything else, once the client has
 * authenticated with its credentials (client_secret_basic or client_secret_post, as configured);
 * counts requests and can be made to fail. Closes its sockets on close().
 */
export class IntrospectionServer {
  fault: IntrospectionFault | undefined;
  requestCount = 0;
  /** How many requests asked about a token it answers active (issued or activated, not revoked). */
  issuedTokenRequestCount = 0;
  lastRequest: ReceivedIntrospection | undefined;
  private readonly active = new Map<string, Record<string, unknown>>();
  private readonly server: Server;
  private port = 0;

  private constructor(
    readonly clientId: string,
    readonly clientSecret: string,
  ) {
    this.server = createServer((request, response) => {
      this.requestCount++;
      const fault = this.fault;
      const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
        if (!response.destroyed) response.writeHead(status, { "content-type": "application/json", ...headers }).end(body);
      };
      readRequestBody(request, MAX_FORM_BYTES).then(
        (body) => {
          const form = new URLSearchParams(body);
          this.lastRequest = { headers: request.headers, form };
          const issued = this.active.has(form.get("token") ?? "");
          if (issued) this.issuedTokenRequestCount++;
          if (fault?.kind === "status") answer(fault.status, fault.body ?? '{"error":"server_error"}');
          else if (fault?.kind === "body") answer(200, fault.body);
          else if (fault?.kind === "redirect") answer(307, "", { location: fault.location });
          else {
            const reply = () => (this.isAuthenticated(request.headers, form) ? answer(200, JSON.stringify(this.describe(form.get("token")))) : answer(401, '{"error":"invalid_client"}'));
            if (fault?.kind === "delay" && !(fault.unknownOnly === true && issued)) {
              const timer = setTimeout(reply, fault.ms);
              request.socket.once("close", () => clearTimeout(timer));
            } else reply();
          }
        },
        () => answer(400, '{"error":"invalid_request"}'),
      );
    });
  }

  static async start(clientId = "mcp-gateway", clientSecret = "gateway-secret"): Promise<IntrospectionServer> {
    const introspection = new IntrospectionServer(clientId, clientSecret);
    await listenOn(introspection.server, 0, "127.0.0.1");
    introspection.port = (introspection.server.address() as AddressInfo).port;
    return introspection;
  }

  /** Base URL, e.g. http://127.0.0.1:40123 (the issuer of its tokens); still known after close(). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get endpoint(): string {
    return `${this.url}${INTROSPECTION_PATH}`;
  }

  /** A new opaque token, answered active with `claims` (over iss, client_id, token_type, exp in an hour). */
  issue(claims: Record<string, unknown> = {}): string {
    const token = randomBytes(32).toString("base64url");
    this.activate(token, claims);
    return token;
  }

  /** Answers `token` active with `claims` from now on. */
  activate(token: string, claims: Record<string, unknown> = {}): void {
    this.active.set(token, { iss: this.url, client_id: "mcp-client", token_type: "Bearer", exp: Math.floor(Date.now() / 1000) + 3600, ...claims, active: true });
  }

  /** Answers `token` inactive from now on (as after a revocation). */
  revoke(token: string): void {
    this.active.delete(token);
  }

  /** Stops serving; closing again is harmless. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private describe(token: string | null): Record<string, unknown> {
    return (token === null ? undefined : this.active.get(token)) ?? { active: false };
  }

  /** RFC 6749 §2.3.1: Basic with form-encoded id and secret, or both in the form, never both ways. */
  private isAuthenticated(headers: IncomingHttpHeaders, form: URLSearchParams): boolean {
    const basic = /^Basic (.+)$/.exec(headers.authorization ?? "");
    if (basic !== null) {
      if (form.has("client_secret")) return false;
      const [id, secret] = Buffer.from(basic[1] as string, "base64").toString("utf8").split(":").map((part) => decodeURIComponent(part.replace(/\+/g, "%20")));
      return id === this.clientId && secret === this.clientSecret;
    }
    return form.get("client_id") === this.clientId && form.get("client_secret") === this.clientSecret;
  }
}
