// Stands in for systemd's notify socket: a unix datagram socket (Python: Node has no unix dgram)
// that prints every datagram it receives with the time it arrived.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface Datagram {
  atMs: number;
  text: string;
}

const SERVER = `
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data = s.recv(65536)
    for line in data.decode("utf-8", "replace").split("\\n"):
        if line:
            print("%.3f %s" % (time.time() * 1000, line), flush=True)
`;

export class FakeSystemd {
  readonly received: Datagram[] = [];
  private child: ChildProcess | undefined;

  constructor(readonly socketPath: string) {}

  async start(): Promise<void> {
    this.child = spawn('python3', ['-c', SERVER, this.socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const m = /^(\d+\.\d+) (.*)$/.exec(l);
        if (m) this.received.push({ atMs: Number(m[1]), text: m[2]! });
      }
    });
    await once(this.child.stdout!, 'data');
  }

  stop(): void {
    this.child?.kill('SIGKILL');
  }

  messages(prefix: string): Datagram[] {
    return this.received.filter((d) => d.text.startsWith(prefix));
  }
}
