// The demo's MQTT broker: aedes in-process on a free loopback port, so `facegate demo` shows the
// daemon's MQTT traffic without a broker installed. Only the demo uses it; tests use mosquitto.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

export interface DemoBroker {
  url: string;
  /** Every message a client published, in arrival order; a binary payload (the last face's JPEG) as a short description. */
  messages: { topic: string; payload: string }[];
  close(): Promise<void>;
}

export async function startDemoBroker(onMessage: (topic: string, payload: string) => void): Promise<DemoBroker> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const messages: DemoBroker['messages'] = [];
  broker.on('publish', (packet, client) => {
    // client is null for the broker's own $SYS messages.
    if (!client) return;
    const m = { topic: packet.topic, payload: typeof packet.payload === 'string' ? packet.payload : printable(packet.payload) };
    messages.push(m);
    onMessage(m.topic, m.payload);
  });
  return {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    messages,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      server.close();
    },
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Text as it is; anything else (Home Assistant's last-face image) described, not dumped on a terminal. */
function printable(payload: Buffer): string {
  if (payload[0] === 0xff && payload[1] === 0xd8) return `<JPEG image, ${payload.length} bytes>`;
  try {
    return utf8.decode(payload);
  } catch {
    return `<binary, ${payload.length} bytes>`;
  }
}
