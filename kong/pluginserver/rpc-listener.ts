// msgpack-rpc over a unix socket, the server side. Each connection's bytes are cut into whole
// messages first, so a message split across chunks, or several messages in one chunk, decode as
// they should (the stock listener decodes one message per chunk and throws otherwise, which kills
// the process).
import { rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { decode, Encoder } from "@msgpack/msgpack";
import { MsgpackFramer } from "./msgpack-framing";
import type { RpcMethod } from "./plugin-server";
import type { Logger } from "./stderr-logger";

const REQUEST = 0;
const RESPONSE = 1;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One encoder for every reply: msgpack's encode() builds an Encoder (and a 2 KiB buffer) per call,
 * six times per request. Its output is a view of the shared buffer, so it is copied for the write.
 */
const encoder = new Encoder();

function writeReply(socket: Socket, messageId: unknown, error: string | null, result: unknown): void {
  if (!socket.writable) return;
  socket.write(Buffer.from(encoder.encodeSharedRef([RESPONSE, messageId, error, result])));
}

/** Runs one request; the reply is written whenever the method settles (calls on a connection may overlap). */
function dispatch(socket: Socket, message: unknown, methods: Readonly<Record<string, RpcMethod>>, logger: Logger): void {
  if (!Array.isArray(message) || message[0] !== REQUEST || typeof message[2] !== "string") {
    logger.error("rpc: ignoring a message that is not a request [0, msgid, method, params]");
    return;
  }
  const [, messageId, method, params] = message as [number, unknown, string, unknown];
  const [namespace, name = ""] = method.split(".");
  if (namespace !== "plugin") {
    writeReply(socket, messageId, `RPC for ${namespace} is not supported`, null);
    return;
  }
  const handler = Object.hasOwn(methods, name) ? methods[name] : undefined;
  if (handler === undefined) {
    logger.error(`rpc: #${String(messageId)} method ${name} not implemented`);
    writeReply(socket, messageId, `method ${name} not implemented`, null);
    return;
  }
  // Never log the params: they carry request headers, tokens included.
  logger.debug(`rpc: #${String(messageId)} method: ${method}`);
  handler(...(Array.isArray(params) ? params : [params])).then(
    (result) => writeReply(socket, messageId, null, result),
    (error: unknown) => {
      logger.error(`rpc: #${String(messageId)} ${method}: ${errorText(error)}`);
      writeReply(socket, messageId, errorText(error), null);
    },
  );
}

function serveConnection(socket: Socket, methods: Readonly<Record<string, RpcMethod>>, logger: Logger): void {
  socket.on("error", (error) => logger.debug(`rpc: connection error: ${error.message}`));
  const framer = new MsgpackFramer();
  socket.on("data", (chunk: Buffer) => {
    let messages: unknown[];
    try {
      messages = framer.push(chunk).map((bytes) => decode(bytes));
    } catch (error) {
      logger.error(`rpc: closing a connection that sent undecodable data: ${errorText(error)}`);
      socket.destroy();
      return;
    }
    for (const message of messages) dispatch(socket, message, methods, logger);
  });
}

/** A listening RPC server; close() stops it, drops its connections and removes the socket file. */
export interface RpcListener {
  close(): Promise<void>;
}

/** Listens on `socketPath` (a stale socket file is replaced) and serves `methods`. */
export async function listenForRpc(
  socketPath: string,
  methods: Readonly<Record<string, RpcMethod>>,
  logger: Logger,
): Promise<RpcListener> {
  rmSync(socketPath, { force: true });
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
    serveConnection(socket, methods, logger);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  logger.info(`server started at ${socketPath}`);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          rmSync(socketPath, { force: true });
          resolve();
        });
        for (const socket of connections) socket.destroy();
      }),
  };
}
