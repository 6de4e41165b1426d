/** A request as a client sent it to Kong. */
export interface FakeRequest {
  readonly method?: string;
  readonly path?: string;
  /** In order, duplicates allowed, any case. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** A string is sent as UTF-8. */
  readonly body?: string | Buffer;
  readonly forwarded?: { readonly scheme: string; readonly host: string; readonly port: number };
  /** Kong's client_body_buffer_size: larger bodies are "on file" and need get_raw_body(max). */
  readonly clientBodyBufferSize?: number;
}

export interface RecordedExit {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string>;
}

/**
 * A stand-in for the PDK as the plugin sees it through kong-pdk's bridge, answering as Kong 3.9
 * does: header map values as arrays (lower-case names), the raw body as bytes, nil as undefined,
 * and nothing at all after kong.response.exit (a later call fails the test).
 */
export class FakeKong {
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  readonly logs: Array<{ level: string; message: string }> = [];
  readonly clearedHeaders: string[] = [];
  readonly shared = new Map<string, unknown>();
  exit: RecordedExit | undefined;
  readonly kong: unknown;

  constructor(private readonly request: FakeRequest) {
    const handlers: Record<string, (...args: unknown[]) => unknown> = {
      "kong.request.get_path": () => request.path ?? "/mcp",
      "kong.request.get_method": () => request.method ?? "POST",
      "kong.request.get_headers": (max) => this.headerMap(Number(max ?? 100)),
      "kong.request.get_raw_body": (max) => this.rawBody(max as number | undefined),
      "kong.request.get_forwarded_scheme": () => request.forwarded?.scheme ?? "http",
      "kong.request.get_forwarded_host": () => request.forwarded?.host ?? "gateway.test",
      "kong.request.get_forwarded_port": () => request.forwarded?.port ?? 80,
      "kong.response.exit": (status, body, headers) => {
        this.exit = { status: status as number, body: body as string, headers: headers as Record<string, string> };
      },
      "kong.service.request.clear_header": (name) => void this.clearedHeaders.push(name as string),
      "kong.service.request.set_header": () => undefined,
      "kong.ctx.shared.set": (key, value) => void this.shared.set(key as string, structuredClone(value)),
    };
    for (const level of ["err", "warn", "notice", "info", "debug"]) {
      handlers[`kong.log.${level}`] = (...args) => void this.logs.push({ level, message: args.join(" ") });
    }
    const call = async (method: string, args: unknown[]) => {
      if (this.exit !== undefined) throw new Error(`PDK call ${method} after kong.response.exit: Kong would never answer it`);
      this.calls.push({ method, args });
      const handler = handlers[method];
      if (handler === undefined) throw new Error(`unexpected PDK call ${method}`);
      return handler(...args);
    };
    const bridge = (prefix: string): unknown =>
      new Proxy(Object.assign((...args: unknown[]) => call(prefix, args), {}), { get: (_target, name) => bridge(`${prefix}.${String(name)}`) });
    this.kong = bridge("kong");
  }

  /** PDK calls made, logs included: under Kong each one is a socket round trip. */
  get roundTrips(): number {
    return this.calls.length;
  }

  /** The PDK functions called, in order. */
  get pdkMethods(): string[] {
    return this.calls.map((call) => call.method);
  }

  /**
   * The request headers the service would get (lower-case names): the client's, then each
   * clear_header and set_header in call order, both replacing every value of the name as Kong does.
   */
  get upstreamHeaders(): Record<string, string[]> {
    const headers = this.headerMap(Infinity);
    for (const { method, args } of this.calls) {
      const name = String(args[0]).toLowerCase();
      if (method === "kong.service.request.clear_header") delete headers[name];
      if (method === "kong.service.request.set_header") headers[name] = [String(args[1])];
    }
    return headers;
  }

  private headerMap(max: number): Record<string, string[]> {
    const map: Record<string, string[]> = {};
    for (const [name, value] of (this.request.headers ?? []).slice(0, max)) (map[name.toLowerCase()] ??= []).push(value);
    return map;
  }

  private rawBody(max: number | undefined): Uint8Array | undefined {
    const body = Buffer.from(this.request.body ?? "");
    if (body.length <= (this.request.clientBodyBufferSize ?? 8192)) return new Uint8Array(body);
    return max !== undefined && body.length <= max ? new Uint8Array(body) : undefined;
  }
}
