// Liveness, readiness and Prometheus metrics over plain HTTP, for systemd-less supervisors, uptime
// checks and a Prometheus scraper. Loopback by default: the metrics name doors and decisions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Component } from '../core/component.js';

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  /** e.g. models, camera, frames (processed recently), gallery. */
  checks: Record<string, ReadinessCheck>;
}

export interface HealthServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port; read it from `port` after start(). */
  port: number;
  registry: Registry;
  readiness: () => Readiness;
  log?: (line: string) => void;
}

export class HealthServer implements Component {
  readonly name = 'health server';
  private server: Server | undefined;

  constructor(private readonly options: HealthServerOptions) {}

  /** The bound port (the chosen one when started with port 0). */
  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('health server is not listening: call start() first');
    return address.port;
  }

  async start(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'EADDRINUSE' ? ': another process uses it; set health.port to a free port (0 = any)' : '';
        reject(new Error(`health server: cannot listen on ${host}:${this.options.port}${hint} (${err.message})`));
      });
      server.listen(this.options.port, host, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // Since Node 19 close() also drops idle keep-alive connections, so a scraper cannot hold it up.
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
      return json(res, 404, { error: `no such endpoint ${path}: try /healthz, /readyz or /metrics` });
    }
    // HEAD is what `curl -I` and some uptime checkers send; Node leaves out the body by itself.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return json(res, 405, { error: `${req.method} not allowed on ${path}: use GET` });
    }
    try {
      if (path === '/healthz') {
        // Answering at all is the check: a blocked event loop or a dead process does not answer.
        json(res, 200, { status: 'ok' });
      } else if (path === '/readyz') {
        const { ready, checks } = this.options.readiness();
        json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
      } else {
        const body = await this.options.registry.metrics();
        res.writeHead(200, { 'Content-Type': this.options.registry.contentType, 'Cache-Control': 'no-store' });
        res.end(body);
      }
    } catch (err) {
      this.options.log?.(`health: ${path} failed: ${(err as Error).message}`);
      if (!res.headersSent) json(res, 500, { error: `${path} failed: ${(err as Error).message}` });
      else res.destroy();
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}
