import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { closeServer, listenOn } from "../../demo/http-server";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".wasm": "application/wasm",
};

/**
 * Serves a built single-page application from `root` on 127.0.0.1: files as they are, and
 * index.html for any other path without an extension (the app's router resolves it), like the
 * static hosting Kong Manager is served from. Paths cannot leave `root`.
 */
export class StaticSiteServer {
  private readonly server: Server;

  private constructor(root: string) {
    this.server = createServer((request, response) => {
      const pathname = decodeURIComponent(new URL(request.url ?? "/", "http://site").pathname);
      const file = normalize(join(root, pathname));
      const servedFile = file.startsWith(root + sep) && extname(file) !== "" ? file : join(root, "index.html");
      readFile(servedFile).then(
        (content) => response.writeHead(200, { "Content-Type": CONTENT_TYPES[extname(servedFile)] ?? "application/octet-stream" }).end(content),
        () => response.writeHead(404, { "Content-Type": "text/plain" }).end("not found"),
      );
    });
  }

  static async start(root: string): Promise<StaticSiteServer> {
    const site = new StaticSiteServer(normalize(root));
    await listenOn(site.server, 0, "127.0.0.1");
    return site;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}
