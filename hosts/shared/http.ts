// A small HTTP listener for the daemon's Prometheus endpoint, over node:http:
// Node, Deno (without a flag) and Bun each implement it, so one implementation
// serves the three hosts (each host's HostIO.serveHttp is this function).

import http from "node:http";
import type { HttpHandler, HttpServer } from "./io.ts";

export function serveHttp(address: string, port: number, handle: HttpHandler): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    let answer;
    try {
      answer = req.method === "GET" || req.method === "HEAD" ? handle(req.url ?? "/") : { status: 405, type: "text/plain", body: "only GET\n" };
    } catch (e) {
      answer = { status: 500, type: "text/plain", body: `${e instanceof Error ? e.message : e}\n` };
    }
    res.writeHead(answer.status, { "content-type": answer.type });
    res.end(req.method === "HEAD" ? undefined : answer.body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      server.on("error", () => {});
      const bound = server.address();
      resolve({
        port: typeof bound === "object" && bound ? bound.port : port,
        close: () => {
          server.close();
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        },
      });
    });
  });
}
