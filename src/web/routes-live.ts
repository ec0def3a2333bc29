// Long-lived streams: the live view as MJPEG (an <img> shows it, so does Home Assistant's MJPEG
// camera), the faces of each live frame and the decision feed as server-sent events.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FEED_EVENTS } from './event-feed.js';
import type { LiveFrame } from './live-view.js';
import { SseStream } from './sse.js';
import type { RouteContext, WebApp } from './web-app.js';

const BOUNDARY = 'facegate-frame';
const PING_MS = 15_000;

function facesOf(frame: LiveFrame) {
  return { seq: frame.seq, capturedAtMs: frame.capturedAtMs, width: frame.width, height: frame.height, faces: frame.faces };
}

export function registerLiveRoutes(app: WebApp, ctx: RouteContext): void {
  const stream = { schema: { tags: ['live'] } };

  app.get('/api/live.mjpeg', { schema: { ...stream.schema, summary: `the camera with faces drawn, multipart/x-mixed-replace JPEG at up to web.liveView.fps` } }, (req, reply) => {
    const session = req.session!;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`, 'Cache-Control': 'no-store', Connection: 'close', 'X-Content-Type-Options': 'nosniff' });
    let closed = false;
    const handle = {
      close: () => {
        if (closed) return;
        closed = true;
        remove();
        ctx.streams.delete(handle);
        res.end();
      },
    };
    const remove = ctx.liveView.addViewer({
      wantsImage: true,
      push: (frame) => {
        if (!ctx.sessions.isLive(session)) return handle.close();
        // A viewer on a slow link skips frames instead of queueing them in memory.
        if (res.writableLength > 2 * frame.jpeg!.length) return;
        res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.jpeg!.length}\r\nX-Frame-Seq: ${frame.seq}\r\n\r\n`);
        res.write(frame.jpeg!);
        res.write('\r\n');
      },
    });
    ctx.streams.add(handle);
    res.on('close', () => handle.close());
  });

  app.get('/api/live.jpg', { schema: { ...stream.schema, summary: 'the next live frame as one JPEG (waits up to 5 s for the camera)' } }, async (_req, reply) => {
    const frame = await new Promise<LiveFrame | undefined>((resolve) => {
      const timer = ctx.clock.setTimeout(() => {
        remove();
        resolve(undefined);
      }, 5000);
      const remove = ctx.liveView.addViewer({
        wantsImage: true,
        push: (f) => {
          ctx.clock.clearTimeout(timer);
          remove();
          resolve(f);
        },
      });
    });
    if (!frame) return reply.code(503).send({ error: 'no frame from the camera within 5 s (see /api/status camera)' });
    return reply.type('image/jpeg').send(frame.jpeg);
  });

  app.get('/api/live/faces', { schema: { ...stream.schema, summary: 'server-sent events "frame": the faces of each live frame (box, track, label, quality, liveness)' } }, (req, reply) => {
    openSse(ctx, req, reply, (sse) => ctx.liveView.addViewer({ wantsImage: false, push: (frame) => void sse.send('frame', facesOf(frame)) }));
  });

  app.get('/api/events/stream', { schema: { tags: ['decisions'], summary: `server-sent events as they happen: ${FEED_EVENTS.join(', ')}` } }, (req, reply) => {
    openSse(ctx, req, reply, (sse) => ctx.feed.add((event, data) => void sse.send(event, data)));
  });
}

function openSse(ctx: RouteContext, req: FastifyRequest, reply: FastifyReply, subscribe: (sse: SseStream) => () => void): void {
  const session = req.session!;
  reply.hijack();
  const sse = new SseStream(reply.raw, () => ctx.sessions.isLive(session));
  const unsubscribe = subscribe(sse);
  const ping = ctx.clock.setInterval(() => sse.ping(), PING_MS);
  ctx.streams.add(sse);
  sse.onClose(() => {
    unsubscribe();
    ctx.clock.clearInterval(ping);
    ctx.streams.delete(sse);
  });
}
