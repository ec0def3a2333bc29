// The daemon's metrics: the pipeline set from system/metrics.ts plus what the daemon's own
// components count (relay releases by cause, camera losses vs reconnects, gallery health, events).
import { Counter, Gauge } from 'prom-client';
import { createMetrics, type FacegateMetrics } from '../system/metrics.js';

export interface DaemonMetrics extends FacegateMetrics {
  /** cause: timeout (pulse ran out), release, stop, exit, crash. */
  readonly relayReleases: Counter<'door' | 'cause'>;
  /** The camera was lost (facegate_camera_reconnects_total counts the times it came back). */
  readonly cameraLosses: Counter;
  readonly galleryHealthy: Gauge;
  /** kind: recognition, unlock, enrollment, admin. */
  readonly eventsRecorded: Counter<'kind'>;
  readonly eventLogErrors: Counter;
}

export function createDaemonMetrics(): DaemonMetrics {
  const base = createMetrics();
  const registers = [base.registry];
  base.registry.removeSingleMetric('facegate_camera_reconnects_total');
  return {
    ...base,
    cameraReconnects: new Counter({ name: 'facegate_camera_reconnects_total', help: 'times the camera came back after it was lost', registers }),
    cameraLosses: new Counter({ name: 'facegate_camera_losses_total', help: 'times the camera was lost and reopening began', registers }),
    relayReleases: new Counter({ name: 'facegate_relay_releases_total', help: 'door relay releases by door and cause (timeout: the pulse ran out; stop, exit, crash: the daemon ended)', labelNames: ['door', 'cause'] as const, registers }),
    galleryHealthy: new Gauge({ name: 'facegate_gallery_healthy', help: '1 while the gallery file passes its integrity check, else 0', registers }),
    eventsRecorded: new Counter({ name: 'facegate_events_recorded_total', help: 'events written to the event log, by kind', labelNames: ['kind'] as const, registers }),
    eventLogErrors: new Counter({ name: 'facegate_event_log_errors_total', help: 'events that could not be written to the event log (disk full, I/O error)', registers }),
  };
}
