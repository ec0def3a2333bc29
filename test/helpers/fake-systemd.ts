// Stands in for systemd's notify socket: a unix datagram socket (Python: Node has no unix dgram)
// that reports every datagram with the sender's PID (SCM_CREDENTIALS, as systemd checks it).
// Datagrams keep their order, so a marker sent through the same socket separates what came
// before it from what came after: tests wait for markers, never for a time.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Datagram {
  /** The sender's PID, or null without credentials. */
  pid: number | null;
  /** The whole datagram, trimmed (one notify field per line). */
  text: string;
}

const SERVER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pids = [struct.unpack("iII", d)[0] for (lvl, typ, d) in anc if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS]
    print(json.dumps({"pid": pids[0] if pids else None, "text": data.decode("utf-8", "replace").strip()}), flush=True)
`;

export class FakeSystemd {
  readonly received: Datagram[] = [];
  private child: ChildProcess | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly socketPath: string) {}

  async start(): Promise<void> {
    const child = spawn('python3', ['-c', SERVER, this.socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`fake systemd exited with ${code}`)));
      lines.on('line', (line) => {
        if (line === 'listening') return resolve();
        this.received.push(JSON.parse(line) as Datagram);
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  stop(): void {
    this.child?.kill('SIGKILL');
  }

  messages(prefix: string): Datagram[] {
    return this.received.filter((d) => d.text.startsWith(prefix));
  }

  /** Resolves with the index of the first datagram that is exactly `text`, once it has arrived. */
  async arrival(text: string): Promise<number> {
    for (;;) {
      const i = this.received.findIndex((d) => d.text === text);
      if (i >= 0) return i;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}
