// The web console as a daemon component: start() reads the TLS files and listens, stop() closes
// the open streams and the server. Off unless web.enabled.
import { readFileSync } from 'node:fs';
import type { AdminApi } from '../app/admin-api.js';
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { Clock } from '../util/clock.js';
import type { WebSettings } from './settings.js';
import type { UserStore } from './user-store.js';
import { buildWebApp, type BuiltWebApp, type WebLog } from './web-app.js';

export class WebConsole implements Component {
  readonly name = 'web console';
  private built: BuiltWebApp | undefined;

  constructor(
    private readonly settings: WebSettings,
    private readonly admin: AdminApi,
    private readonly bus: EventBus,
    private readonly users: UserStore,
    private readonly log: WebLog,
    private readonly clock: Clock,
  ) {}

  /** The bound port (the chosen one when configured with port 0). */
  get port(): number {
    const address = this.built?.app.server.address();
    if (!address || typeof address === 'string') throw new Error('web console is not listening: call start() first');
    return address.port;
  }

  get url(): string {
    const host = this.settings.host.includes(':') ? `[${this.settings.host}]` : this.settings.host;
    return `${this.settings.tls ? 'https' : 'http'}://${host}:${this.port}/`;
  }

  async start(): Promise<void> {
    const tls = this.settings.tls ? { cert: readPem(this.settings.tls.certPath, 'certificate'), key: readPem(this.settings.tls.keyPath, 'private key') } : undefined;
    const users = this.users.list();
    if (users.length === 0) this.log.warn(`web: no users in ${this.users.path} yet: create one with \`facegate web user add NAME --role admin\``);
    const built = await buildWebApp({ settings: this.settings, admin: this.admin, bus: this.bus, users: this.users, log: this.log, clock: this.clock, ...(tls ? { tls } : {}) });
    try {
      await built.app.listen({ host: this.settings.host, port: this.settings.port });
    } catch (err) {
      await built.app.close();
      const code = (err as NodeJS.ErrnoException).code;
      const hint = code === 'EADDRINUSE' ? ': another process uses it; set web.port to a free port' : code === 'EADDRNOTAVAIL' ? ': no such address on this machine; check web.host' : '';
      throw new Error(`web console: cannot listen on ${this.settings.host}:${this.settings.port}${hint} (${(err as Error).message})`);
    }
    this.built = built;
    this.log.info(`web console on ${this.url}`);
  }

  async stop(): Promise<void> {
    const built = this.built;
    if (!built) return;
    this.built = undefined;
    for (const stream of [...built.ctx.streams]) stream.close();
    built.ctx.liveView.close();
    built.ctx.feed.close();
    await built.app.close();
  }
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`web console: cannot read the TLS ${what} ${path} (web.tls): ${(err as Error).message}`);
  }
}
