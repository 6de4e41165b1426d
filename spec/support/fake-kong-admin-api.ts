import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { closeServer, listenOn } from "../../demo/http-server";
import { applySchemaDefaults, processField, SchemaViolationError, type ConsumerEntity, type FieldErrors, type PluginInfo, type Processed } from "../../kong/driver";

/** A request the Admin API received, in order (preflights included). */
export interface AdminApiRequest {
  readonly method: string;
  readonly path: string;
  readonly origin: string | undefined;
  readonly body: unknown;
}

/** A plugin entity as Kong 3.9 stores it and answers it to `POST /plugins`. */
export interface StoredPlugin {
  readonly id: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly protocols: readonly string[];
  readonly enabled: boolean;
  readonly [field: string]: unknown;
}

const KONG_VERSION = "3.9.1";

// typedefs.protocols' default (kong/db/schema/typedefs.lua): what Kong stores when `protocols` is absent
// and the plugin's schema does not narrow the field.
const DEFAULT_PROTOCOLS = ["grpc", "grpcs", "http", "https"];

/**
 * The plugin entity's `protocols` as Kong stores it: the plugin schema's own `protocols` field (as
 * Kong's plugins declare with typedefs.protocols_http) replaces the entity's, with its default,
 * len_min and one_of; without one, Kong's default.
 */
function checkProtocols(schema: PluginInfo["Schema"], posted: unknown): Processed {
  const field = schema.fields.find((entry) => "protocols" in entry)?.["protocols"];
  return field === undefined ? { value: posted ?? DEFAULT_PROTOCOLS } : processField(field, posted);
}

const EMPTY_PAGE = { data: [], next: null };

/** A consumer as the Admin API answers it: every field present, unset ones null. */
function describeConsumer(consumer: ConsumerEntity): Record<string, unknown> {
  return { username: null, custom_id: null, created_at: 1700000000, updated_at: 1700000000, tags: null, ...consumer };
}

function readJsonBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.once("error", reject);
    request.once("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      try {
        resolve(text === "" ? undefined : JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * A stand-in for Kong 3.9's Admin API as Kong Manager uses it to create one external plugin, on
 * 127.0.0.1. It answers what Kong answers for a plugin server's plugin: `GET /schemas/plugins/<name>`
 * is `schema_to_jsonable` of the dumped schema (kong/api/routes/kong.lua) — `{fields, entity_checks}`
 * with the `config` record and whatever else the dump declares (our plugin server adds a narrowed
 * `protocols`); Kong adds `route`, `service`, `consumer` and, unless the subschema has its own,
 * `protocols` to the plugin entity. `POST /plugins` fills and checks the config and the protocols
 * like Kong (the driver's applySchemaDefaults; 400 "schema violation" otherwise) and stores the
 * entity with Kong's entity defaults. CORS as Kong's admin API without `admin_gui_origin`: the Origin is echoed and
 * credentials are allowed. Every request is recorded.
 */
export class FakeKongAdminApi {
  readonly requests: AdminApiRequest[] = [];
  readonly plugins: StoredPlugin[] = [];
  private readonly server: Server;

  private constructor(
    private readonly plugin: PluginInfo,
    /** Kong's consumers: `GET /consumers` lists them, `GET /consumers/{id or username}` reads one. */
    private readonly consumers: readonly ConsumerEntity[],
  ) {
    this.server = createServer((request, response) => {
      this.answer(request, response).catch((error: unknown) => this.send(request, response, 500, { message: String(error) }));
    });
  }

  /** Serves `plugin` (an entry of the plugin server's dump, e.g. `driver.plugin`) and `consumers` on an ephemeral port. */
  static async start(plugin: PluginInfo, consumers: readonly ConsumerEntity[] = []): Promise<FakeKongAdminApi> {
    const api = new FakeKongAdminApi(plugin, consumers);
    await listenOn(api.server, 0, "127.0.0.1");
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The plugins Kong Manager's form created, parsed from their `POST /plugins` bodies. */
  get postedPlugins(): Array<Record<string, unknown>> {
    return this.requests.filter(({ method, path }) => method === "POST" && path === "/plugins").map(({ body }) => body as Record<string, unknown>);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? "GET";
    const path = new URL(request.url ?? "/", "http://admin").pathname;
    const body = method === "POST" || method === "PUT" || method === "PATCH" ? await readJsonBody(request) : undefined;
    this.requests.push({ method, path, origin: request.headers.origin, body });

    if (method === "OPTIONS") {
      const methods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
      response.setHeader("Allow", methods);
      response.setHeader("Access-Control-Allow-Methods", methods);
      response.setHeader("Access-Control-Allow-Headers", request.headers["access-control-request-headers"] ?? "Content-Type");
      return this.send(request, response, 204);
    }
    if (method === "GET" && path === "/") return this.send(request, response, 200, this.describeNode());
    if (method === "GET" && path === "/plugins/enabled") return this.send(request, response, 200, { enabled_plugins: [this.plugin.Name] });
    if (method === "GET" && path.startsWith("/schemas/plugins/")) {
      const name = decodeURIComponent(path.slice("/schemas/plugins/".length));
      if (name !== this.plugin.Name) return this.send(request, response, 404, { message: `No plugin named '${name}'` });
      return this.send(request, response, 200, { fields: this.plugin.Schema.fields, entity_checks: [] });
    }
    if (method === "POST" && path === "/plugins") return this.createPlugin(request, response, body);
    if (method === "GET" && path === "/plugins") return this.send(request, response, 200, { data: this.plugins, next: null });
    if (method === "GET" && path === "/consumers") return this.send(request, response, 200, { data: this.consumers.map(describeConsumer), next: null });
    if (method === "GET" && path.startsWith("/consumers/")) {
      // Kong's endpoint key: a UUID names the id, anything else the username.
      const key = decodeURIComponent(path.slice("/consumers/".length));
      const consumer = this.consumers.find((candidate) => candidate.id === key || candidate.username === key);
      return consumer === undefined ? this.send(request, response, 404, { message: "Not found" }) : this.send(request, response, 200, describeConsumer(consumer));
    }
    if (method === "GET" && ["/services", "/routes"].includes(path)) return this.send(request, response, 200, EMPTY_PAGE);
    return this.send(request, response, 404, { message: "Not found" });
  }

  private createPlugin(request: IncomingMessage, response: ServerResponse, body: unknown): void {
    const posted = (body ?? {}) as Record<string, unknown>;
    if (posted["name"] !== this.plugin.Name) {
      const message = `plugin '${String(posted["name"])}' not enabled; add it to the 'plugins' configuration property`;
      return this.send(request, response, 400, { code: 2, name: "schema violation", message: `schema violation (name: ${message})`, fields: { name: message } });
    }
    // Kong validates the whole entity and answers every field's errors at once.
    const errors: Record<string, FieldErrors> = {};
    let config: Record<string, unknown> = {};
    try {
      config = applySchemaDefaults(this.plugin.Schema, posted["config"]);
    } catch (error) {
      if (!(error instanceof SchemaViolationError)) throw error;
      Object.assign(errors, error.fields);
    }
    const protocols = checkProtocols(this.plugin.Schema, posted["protocols"]);
    if (protocols.errors !== undefined) errors["protocols"] = protocols.errors;
    if (Object.keys(errors).length > 0) return this.send(request, response, 400, new SchemaViolationError(errors).toJSON());
    const now = Math.floor(Date.now() / 1000);
    const stored: StoredPlugin = {
      instance_name: null,
      route: null,
      service: null,
      consumer: null,
      tags: null,
      ordering: null,
      ...posted,
      id: randomUUID(),
      name: this.plugin.Name,
      created_at: now,
      updated_at: now,
      config,
      protocols: protocols.value as string[],
      enabled: (posted["enabled"] as boolean | undefined) ?? true,
    };
    this.plugins.push(stored);
    this.send(request, response, 201, stored);
  }

  /** `GET /` of an open-source Kong node with only this plugin loaded. */
  private describeNode(): Record<string, unknown> {
    return {
      tagline: "Welcome to kong",
      version: KONG_VERSION,
      edition: "community",
      hostname: "kong-manager-test",
      plugins: {
        available_on_server: { [this.plugin.Name]: { version: this.plugin.Version, priority: this.plugin.Priority } },
        enabled_in_cluster: this.plugins.map(({ name }) => name),
      },
      configuration: { database: "postgres", admin_gui_path: "/", pluginserver_names: [this.plugin.Name] },
    };
  }

  private send(request: IncomingMessage, response: ServerResponse, status: number, payload?: unknown): void {
    response.setHeader("Access-Control-Allow-Origin", request.headers.origin ?? "*");
    response.setHeader("Access-Control-Allow-Credentials", "true");
    if (payload === undefined) {
      response.writeHead(status).end();
      return;
    }
    response.writeHead(status, { "Content-Type": "application/json; charset=utf-8" }).end(JSON.stringify(payload));
  }
}
