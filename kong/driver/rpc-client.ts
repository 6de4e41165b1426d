// Kong's side of msgpack-rpc (kong/runloop/plugin_servers/rpc/mp_rpc.lua, Rpc:call): one pooled
// unix-socket connection per call in flight, never pipelined; replies are cut into whole messages
// as they arrive (Kong's unpacker reads across chunks the same way).
import { createConnection, type Socket } from "node:net";
import { decode, Encoder } from "@msgpack/msgpack";
import { MsgpackFramer } from "../pluginserver/msgpack-framing";

const REQUEST = 0;
const RESPONSE = 1;
const NOTIFICATION = 2;

/**
 * One encoder for every call (msgpack's encode() builds an Encoder and a 2 KiB buffer each time);
 * `undefined` properties are left out, as Lua's nil is. Its encode() returns a copy, safe to queue.
 */
const encoder = new Encoder(undefined, undefined, undefined, undefined, undefined, undefined, /* ignoreUndefined */ true);

/** The plugin server answered the call with an error (Kong logs it and, in a phase, proxies). */
export class RpcReplyError extends Error {
  override readonly name = "RpcReplyError";
}

/** Why a call got no answer. */
export type TransportFailure = "connect" | "timeout" | "no data";

/** The call got no answer: the socket could not connect, closed, or the call timed out. */
export class RpcTransportError extends Error {
  override readonly name = "RpcTransportError";
  constructor(
    readonly failure: TransportFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The reply broke the protocol where Kong asserts (its Lua error makes the request a 500). */
export class RpcProtocolError extends Error {
  override readonly name = "RpcProtocolError";
}

/** Receives the plugin server's notifications ([2, label, args]), e.g. "serverPid". */
export type NotificationHandler = (label: string, args: unknown) => void;

export interface RpcClientOptions {
  socketPath: string;
  /** Per call, like Kong's socket timeouts (lua_socket_*_timeout, 60 s). */
  callTimeoutMs: number;
  /** Idle connections kept for reuse (Kong's keepalive pool). */
  maxIdleConnections?: number;
  onNotification?: NotificationHandler;
}

/** Messages received on one connection, waiting for the call that reads them. */
class Inbox {
  private readonly messages: unknown[] = [];
  private failure: Error | undefined;
  private waiter: { resolve: (message: unknown) => void; reject: (error: Error) => void } | undefined;

  deliver(message: unknown): void {
    if (this.waiter !== undefined) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(message);
    } else this.messages.push(message);
  }

  /** Ends the inbox: the waiting and every later read fail with `error`. */
  fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  next(): Promise<unknown> {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift());
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }
}

interface PooledConnection {
  socket: Socket;
  inbox: Inbox;
}

/** A msgpack-rpc client with Kong's connection discipline. */
export class RpcClient {
  private readonly idle: PooledConnection[] = [];
  private readonly open = new Set<PooledConnection>();
  private lastMessageId = 0;
  private closed = false;

  constructor(private readonly options: RpcClientOptions) {}

  /**
   * Calls `method` with `params` and returns the result. Throws RpcReplyError, RpcTransportError or
   * RpcProtocolError. `undefined` properties are left out, as Lua's nil is.
   */
  async call(method: string, params: readonly unknown[]): Promise<unknown> {
    const messageId = ++this.lastMessageId;
    const connection = this.idle.pop() ?? (await this.connect());
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      connection.socket.destroy();
    }, this.options.callTimeoutMs);
    try {
      connection.socket.write(encoder.encode([REQUEST, messageId, method, params]));
      const result = await this.readReply(connection, messageId);
      this.release(connection);
      return result;
    } catch (error) {
      if (error instanceof RpcReplyError) {
        this.release(connection);
        throw error;
      }
      connection.socket.destroy();
      if (timedOut) throw new RpcTransportError("timeout", `timeout after ${this.options.callTimeoutMs} ms calling ${method}`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes every connection; calls in flight fail with "no data". */
  close(): void {
    this.closed = true;
    for (const connection of this.open) connection.socket.destroy();
    this.open.clear();
    this.idle.length = 0;
  }

  private async readReply(connection: PooledConnection, messageId: number): Promise<unknown> {
    for (;;) {
      const message = await connection.inbox.next();
      if (Array.isArray(message) && message[0] === NOTIFICATION) {
        this.options.onNotification?.(String(message[1]), message[2]);
        continue;
      }
      if (!Array.isArray(message) || message[0] !== RESPONSE) {
        throw new RpcProtocolError("RPC response expected from Go plugin server");
      }
      if (message[1] !== messageId) throw new RpcProtocolError("unexpected RPC response ID from Go plugin server");
      const [, , error, result] = message as [number, number, unknown, unknown];
      if (error !== null && error !== undefined) {
        if (typeof error !== "string") throw new RpcProtocolError(`attempt to index a ${typeof error} value (RPC error)`);
        throw new RpcReplyError(error);
      }
      return result;
    }
  }

  private connect(): Promise<PooledConnection> {
    if (this.closed) return Promise.reject(new RpcTransportError("connect", "the RPC client is closed"));
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.options.socketPath);
      const timer = setTimeout(() => socket.destroy(new Error("timeout")), this.options.callTimeoutMs);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(new RpcTransportError("connect", `trying to connect: ${error.message}`));
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        const connection: PooledConnection = { socket, inbox: new Inbox() };
        const framer = new MsgpackFramer();
        socket.on("data", (chunk: Buffer) => {
          try {
            for (const bytes of framer.push(chunk)) connection.inbox.deliver(decode(bytes));
          } catch (error) {
            connection.inbox.fail(new RpcTransportError("no data", `no data: ${(error as Error).message}`));
            socket.destroy();
          }
        });
        socket.on("error", (error) => connection.inbox.fail(new RpcTransportError("no data", `no data: ${error.message}`)));
        this.open.add(connection);
        socket.once("close", () => {
          connection.inbox.fail(new RpcTransportError("no data", "no data: the plugin server closed the connection"));
          this.open.delete(connection);
          const index = this.idle.indexOf(connection);
          if (index !== -1) this.idle.splice(index, 1);
        });
        resolve(connection);
      });
    });
  }

  private release(connection: PooledConnection): void {
    if (this.closed || connection.socket.destroyed || this.idle.length >= (this.options.maxIdleConnections ?? 64)) {
      connection.socket.destroy();
      return;
    }
    this.idle.push(connection);
  }
}
