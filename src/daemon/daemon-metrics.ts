// The daemon's metrics: the pipeline set from system/metrics.ts plus what the daemon's own
// components count (relay releases by cause, camera losses vs reconnects, gallery health, events).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FleetMetrics } from '../fleet/fleet-sync.js';
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

/** Fleet sync's figures (the same as `facegate fleet status`), read at scrape time. */
export function registerFleetMetrics(registry: Registry, read: () => FleetMetrics | undefined): void {
  const gauge = (name: string, help: string, value: (m: FleetMetrics) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const m = read();
        const v = m ? value(m) : null;
        if (v !== null) this.set(v);
      },
    });
  gauge('facegate_fleet_connected', '1 while fleet sync is connected to the broker', (m) => (m.connected ? 1 : 0));
  gauge('facegate_fleet_synced', '1 once the retained gallery records have all arrived since start', (m) => (m.synced ? 1 : 0));
  gauge('facegate_fleet_controllers_up', 'controllers of the site whose retained status says online', (m) => m.controllersUp);
  gauge('facegate_fleet_converged', '1 while every controller up reports the same gallery hash', (m) => (m.converged ? 1 : 0));
  gauge('facegate_fleet_lag_seconds', "this controller's lag behind the newest gallery version in the site", (m) => (m.lagMs === null ? null : m.lagMs / 1000));
  gauge('facegate_fleet_records_applied', 'replicated records applied since start', (m) => m.applied);
  gauge('facegate_fleet_records_rejected', 'replicated records refused (forged, replayed, older) since start', (m) => m.rejected);
  gauge('facegate_fleet_conflicts', 'concurrent edits resolved by last-writer-wins since start', (m) => m.conflicts);
  gauge('facegate_fleet_records_published', 'records this controller published since start', (m) => m.published);
}
