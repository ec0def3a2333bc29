// The daemon's in-process event bus: components publish what happened and subscribe to what they
// need, instead of calling each other. Handlers run synchronously in subscription order; a handler
// that throws (or whose promise rejects) is reported through onError and never reaches the
// publisher or the other handlers, so a broken subscriber cannot stop the door from working.
import type { Mat } from '../vision/opencv.js';
import type { RecognitionEvent } from '../recognition/events.js';
import type { EnrollmentOutcome } from '../recognition/button-enrollment.js';

export interface FaceInView {
  trackId: number;
  box: [number, number, number, number];
  /** The track's current label: a name, 'unknown', or null while undecided. */
  label: string | null;
  score: number;
  /** Passes the quality gate. */
  usable: boolean;
  liveness?: { state: 'live' | 'spoof' | 'pending'; score: number };
}

export interface FrameAnalysed {
  seq: number;
  capturedAtMs: number;
  width: number;
  height: number;
  faces: FaceInView[];
  /** Milliseconds per stage (detect stages, embed, identify, total). */
  timings: Record<string, number>;
  /** The frame (RGB). Valid only while the handler runs: encode or copy it there, never keep it. */
  image: Mat;
}

export interface TrackUpdate {
  trackId: number;
  state: 'new' | 'decided' | 'ended';
  label: string | null;
  atMs: number;
}

export interface DoorStateChange {
  door: string;
  state: 'locked' | 'unlocked';
  /** pulse reason, or the release cause (timeout, stop, exit, crash). */
  cause: string;
  atMs: number;
  /** Release only: how long the relay was energised. */
  heldMs?: number;
}

export interface Actor {
  /** Which front end acted. */
  via: 'mqtt' | 'web' | 'cli' | 'home-assistant' | 'fleet' | 'button';
  /** Who: a web user name, 'signed request', the HA user, a controller id. */
  name: string;
}

export interface RemoteUnlockEvent {
  eventId: string;
  time: string;
  door: string;
  relay: 'pulse' | 'busy';
  actor: Actor;
  transaction?: string | number;
}

export interface EnrollmentEvent {
  eventId: string;
  time: string;
  outcome: EnrollmentOutcome;
}

export interface CameraStateChange {
  state: string;
  detail: string;
  atMs: number;
}

export interface GalleryChanged {
  people: number;
  templates: number;
  /** What changed it: 'reload' (another process committed), 'enrolled', 'deleted', 'renamed', 'groups', 'negative', 'replicated'. */
  reason: string;
  /** The people whose records changed, when known (fleet sync publishes those). */
  personUuids?: string[];
}

export interface AdminAction {
  eventId: string;
  time: string;
  action: string;
  actor: Actor;
  details: Record<string, unknown>;
}

export interface BusEvents {
  'frame.analysed': FrameAnalysed;
  'track.updated': TrackUpdate;
  decision: RecognitionEvent;
  'door.state': DoorStateChange;
  unlock: RemoteUnlockEvent;
  enrollment: EnrollmentEvent;
  'camera.state': CameraStateChange;
  'gallery.changed': GalleryChanged;
  'admin.action': AdminAction;
}

export type BusEventName = keyof BusEvents;
type Handler<K extends BusEventName> = (payload: BusEvents[K]) => void | Promise<void>;

export class EventBus {
  private readonly handlers = new Map<BusEventName, Handler<BusEventName>[]>();

  constructor(private readonly onError: (err: Error, event: BusEventName) => void = () => undefined) {}

  /** Returns the unsubscribe function. */
  on<K extends BusEventName>(event: K, handler: Handler<K>): () => void {
    const list = this.handlers.get(event) ?? [];
    list.push(handler as Handler<BusEventName>);
    this.handlers.set(event, list);
    return () => {
      const current = this.handlers.get(event) ?? [];
      this.handlers.set(
        event,
        current.filter((h) => h !== handler),
      );
    };
  }

  /** Whether anyone listens: publishers skip building costly payloads (frame images) for nobody. */
  has(event: BusEventName): boolean {
    return (this.handlers.get(event)?.length ?? 0) > 0;
  }

  emit<K extends BusEventName>(event: K, payload: BusEvents[K]): void {
    for (const handler of this.handlers.get(event) ?? []) {
      try {
        const result = handler(payload);
        if (result instanceof Promise) result.catch((err: unknown) => this.onError(asError(err), event));
      } catch (err) {
        this.onError(asError(err), event);
      }
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
