// Prometheus metrics of one daemon, on a registry of its own so tests and a second daemon in the
// same process never collide on prom-client's global registry.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const PIPELINE_STAGES = ['decode', 'pyramid', 'pnet', 'rnet', 'onet', 'align', 'embed', 'identify', 'total'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

// 1 ms (an embed on a desktop) to 2 s (a whole frame on a Pi 3 under load), roughly 1-2.5-5 per decade.
const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

export interface FacegateMetrics {
  readonly registry: Registry;
  readonly framesProcessed: Counter;
  /** Set from the frame source's running count (FrameSource.stats().dropped), not incremented. */
  readonly framesDropped: Gauge;
  readonly stageSeconds: Histogram<'stage'>;
  /** reason: granted, denied-unknown, denied-not-allowed, denied-quality, ... as the door policy names them. */
  readonly decisions: Counter<'door' | 'reason'>;
  readonly cameraUp: Gauge;
  readonly cameraReconnects: Counter;
  readonly gallerySize: Gauge;
  readonly relayPulses: Counter<'door'>;
  readonly fps: Gauge;
  readonly mqttConnected: Gauge;
  readonly outboxPending: Gauge;
  readonly outboxDropped: Counter;
  /** status: ok or error; command: the command name, or 'other' for unknown ones. */
  readonly mqttRequests: Counter<'command' | 'status'>;
}

export function createMetrics(): FacegateMetrics {
  const registry = new Registry();
  const registers = [registry];
  // Unprefixed process_* and nodejs_* names, so the stock Node.js dashboards work unchanged.
  collectDefaultMetrics({ register: registry });

  const stageSeconds = new Histogram({
    name: 'facegate_stage_seconds',
    help: 'time per pipeline stage and frame (stage: decode, pyramid, pnet, rnet, onet, align, embed, identify, total)',
    labelNames: ['stage'] as const,
    buckets: STAGE_BUCKETS,
    registers,
  });
  // Every stage is exported from the first scrape on, so a rate() over a fresh start is not empty.
  for (const stage of PIPELINE_STAGES) stageSeconds.zero({ stage });

  return {
    registry,
    framesProcessed: new Counter({ name: 'facegate_frames_processed_total', help: 'frames run through detection and recognition', registers }),
    // A gauge because the frame source owns the count; increase() and rate() still apply, and treat a
    // daemon restart as the counter reset it is.
    framesDropped: new Gauge({ name: 'facegate_frames_dropped', help: 'camera frames replaced by a newer one before recognition took them (recognition slower than the camera), since the daemon started', registers }),
    stageSeconds,
    decisions: new Counter({ name: 'facegate_decisions_total', help: 'door decisions by door and reason (granted, denied-unknown, denied-not-allowed, denied-quality, ...)', labelNames: ['door', 'reason'] as const, registers }),
    cameraUp: new Gauge({ name: 'facegate_camera_up', help: '1 while the camera is streaming, else 0', registers }),
    cameraReconnects: new Counter({ name: 'facegate_camera_reconnects_total', help: 'times the camera was lost and reopening began', registers }),
    gallerySize: new Gauge({ name: 'facegate_gallery_templates', help: 'face templates of the active model in the gallery', registers }),
    relayPulses: new Counter({ name: 'facegate_relay_pulses_total', help: 'door relay pulses (door opened) by door', labelNames: ['door'] as const, registers }),
    fps: new Gauge({ name: 'facegate_fps', help: 'frames processed per second over the last status period', registers }),
    mqttConnected: new Gauge({ name: 'facegate_mqtt_connected', help: '1 while connected to the MQTT broker, else 0', registers }),
    outboxPending: new Gauge({ name: 'facegate_outbox_pending', help: 'events recorded but not yet acknowledged by the MQTT broker', registers }),
    outboxDropped: new Counter({ name: 'facegate_outbox_dropped_total', help: 'events not delivered because the outbox was full (mqtt.outbox.whenFull)', registers }),
    mqttRequests: new Counter({ name: 'facegate_mqtt_requests_total', help: 'MQTT requests by command and status (ok, error)', labelNames: ['command', 'status'] as const, registers }),
  };
}
