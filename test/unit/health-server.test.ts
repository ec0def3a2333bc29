import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { HealthServer, type Readiness } from '../../src/system/health-server.js';
import { createMetrics } from '../../src/system/metrics.js';

const notReady: Readiness = {
  ready: false,
  checks: {
    models: { ok: true, detail: 'mobilefacenet-fp32' },
    camera: { ok: false, detail: 'reconnecting' },
    frames: { ok: false, detail: 'none yet' },
    gallery: { ok: true, detail: '3 people' },
  },
};

/** Plain node:http with no keep-alive agent, so nothing outside the server under test holds a socket. */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('health, readiness and metrics endpoints', async () => {
  const metrics = createMetrics();
  let readiness = notReady;
  const logged: string[] = [];
  const server = new HealthServer({ port: 0, registry: metrics.registry, readiness: () => readiness, log: (l) => logged.push(l) });
  assert.throws(() => server.port, /not listening/);
  await server.start();
  const port = server.port;
  assert.ok(port > 0);
  try {
    const health = await get(port, '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    assert.match(String(health.headers['content-type']), /^application\/json/);

    const notYet = await get(port, '/readyz');
    assert.equal(notYet.status, 503);
    assert.deepEqual(JSON.parse(notYet.body), { status: 'not ready', checks: notReady.checks });

    readiness = { ready: true, checks: { ...notReady.checks, camera: { ok: true, detail: 'streaming' }, frames: { ok: true, detail: 'last frame 0.1 s ago' } } };
    const ready = await get(port, '/readyz?verbose=1');
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.body) as { status: string }).status, 'ready');

    metrics.framesProcessed.inc(3);
    metrics.stageSeconds.observe({ stage: 'pnet' }, 0.012);
    metrics.decisions.inc({ door: 'front', reason: 'granted' });
    metrics.framesDropped.set(7);
    const scrape = await get(port, '/metrics');
    assert.equal(scrape.status, 200);
    assert.match(String(scrape.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(scrape.body, /^facegate_frames_processed_total 3$/m);
    assert.match(scrape.body, /^# TYPE facegate_stage_seconds histogram$/m);
    assert.match(scrape.body, /^facegate_stage_seconds_bucket\{le="0\.01",stage="pnet"\} 0$/m);
    assert.match(scrape.body, /^facegate_stage_seconds_bucket\{le="0\.025",stage="pnet"\} 1$/m);
    assert.match(scrape.body, /^facegate_stage_seconds_count\{stage="embed"\} 0$/m, 'stages are exported before their first frame');
    assert.match(scrape.body, /^facegate_decisions_total\{door="front",reason="granted"\} 1$/m);
    assert.match(scrape.body, /^facegate_frames_dropped 7$/m);
    assert.match(scrape.body, /^facegate_camera_up 0$/m);
    assert.match(scrape.body, /^process_cpu_seconds_total /m, 'default process metrics');
    for (const name of scrape.body.matchAll(/^# TYPE (\S+)/gm)) {
      assert.ok(/^(facegate_|process_|nodejs_)/.test(name[1]!), `unexpected metric ${name[1]}`);
    }

    const missing = await get(port, '/nope');
    assert.equal(missing.status, 404);
    assert.match((JSON.parse(missing.body) as { error: string }).error, /\/healthz/);

    const post = await get(port, '/metrics', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.ok(JSON.parse(post.body));

    const head = await get(port, '/healthz', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  } finally {
    await server.stop();
  }
  await assert.rejects(get(port, '/healthz'), { code: 'ECONNREFUSED' });
  await server.stop();
  assert.deepEqual(logged, []);
});

// Node closes an idle keep-alive socket by itself after server.keepAliveTimeout (5 s); a stop()
// that waited for that would run into this test's timeout instead of returning.
test('a failing readiness probe answers 500 and is logged; an idle keep-alive client does not hold up stop()', { timeout: 4000 }, async () => {
  const metrics = createMetrics();
  const logged: string[] = [];
  const server = new HealthServer({ port: 0, registry: metrics.registry, readiness: () => { throw new Error('gallery locked'); }, log: (l) => logged.push(l) });
  await server.start();
  // A raw socket, so the test sees exactly when the server hangs up on it.
  const client = connect(server.port, '127.0.0.1');
  await once(client, 'connect');
  let response = '';
  client.setEncoding('utf8').on('data', (s: string) => (response += s));
  const hungUp = once(client, 'end');
  client.write('GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
  while (!/\r\n\r\n[^]*gallery locked[^]*\n$/.test(response)) await once(client, 'data');
  assert.match(response, /^HTTP\/1\.1 500 /);
  assert.match(response, /\r\nConnection: keep-alive\r\n/i, 'the connection stays open after the answer');
  assert.deepEqual(logged, ['health: /readyz failed: gallery locked']);
  await server.stop();
  await hungUp;
  client.destroy();
});

test('a port in use is reported with what to do', async () => {
  const metrics = createMetrics();
  const first = new HealthServer({ port: 0, registry: metrics.registry, readiness: () => notReady });
  await first.start();
  try {
    const second = new HealthServer({ port: first.port, registry: metrics.registry, readiness: () => notReady });
    await assert.rejects(second.start(), /cannot listen on 127\.0\.0\.1:\d+: another process uses it; set health\.port/);
  } finally {
    await first.stop();
  }
});
