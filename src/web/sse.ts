// Server-sent events over a hijacked fastify reply: the decision feed and the live face list.
// A client that stops reading (its buffer grows past the limit) or whose session ended is dropped.
import type { ServerResponse } from 'node:http';

const MAX_BUFFERED_BYTES = 1024 * 1024;

export class SseStream {
  private closed = false;
  private readonly closers: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly stillAllowed: () => boolean,
  ) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': facegate\n\n');
    res.on('close', () => this.close());
  }

  /** false once the stream is closed (the caller drops it). */
  send(event: string, data: unknown): boolean {
    return this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Keeps proxies and the browser from timing out an idle stream. */
  ping(): boolean {
    return this.write(': ping\n\n');
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closers.push(fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closers.splice(0)) fn();
    this.res.end();
  }

  private write(chunk: string): boolean {
    if (this.closed) return false;
    if (!this.stillAllowed() || this.res.writableLength > MAX_BUFFERED_BYTES) {
      this.close();
      return false;
    }
    this.res.write(chunk);
    return true;
  }
}
