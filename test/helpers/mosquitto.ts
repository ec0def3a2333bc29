// A real broker for tests: Debian's mosquitto on a free loopback port from a small config file,
// stopped by its PID and restartable on the same port (with persistence, sessions and queued
// messages survive the restart, as on a real server).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Keep sessions, subscriptions and queued messages across restarts. */
  persistence?: boolean;
  /** mosquitto_passwd file: anonymous clients are refused. */
  passwordFile?: string;
  /** TLS listener; requireCertificate: clients must present a certificate signed by ca. */
  tls?: { ca: string; cert: string; key: string; requireCertificate: boolean };
  /** More configuration lines (a bridge: connection, address, topic). */
  extra?: string[];
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export class Mosquitto {
  port = 0;
  readonly log: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> | undefined;

  constructor(
    readonly dir: string,
    private readonly opts: MosquittoOptions = {},
  ) {}

  get url(): string {
    return `${this.opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error('mosquitto is already running');
    if (this.port === 0) this.port = await freePort();
    const o = this.opts;
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      o.passwordFile ? `allow_anonymous false\npassword_file ${o.passwordFile}` : 'allow_anonymous true',
      ...(o.tls ? [`cafile ${o.tls.ca}`, `certfile ${o.tls.cert}`, `keyfile ${o.tls.key}`, `require_certificate ${o.tls.requireCertificate}`] : []),
      ...(o.persistence ? ['persistence true', `persistence_location ${this.dir}/`] : ['persistence false']),
      // A subscriber that is away while thousands of events arrive must get all of them.
      'max_queued_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      // Started as root (CI containers), mosquitto would switch to its own user and could not write here.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...(o.extra ?? []),
    ];
    const config = join(this.dir, 'mosquitto.conf');
    writeFileSync(config, `${lines.join('\n')}\n`);
    const child = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => this.log.push(d.toString()));
    this.child = child;
    this.exited = once(child, 'exit');
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${this.log.join('')}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port} within 10 s: ${this.log.join('')}`);
      await sleep(20);
    }
  }

  /** SIGTERM by PID: mosquitto saves its persistence file and exits. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      const killer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5000);
      await this.exited;
      clearTimeout(killer);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
