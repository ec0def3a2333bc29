// The gallery as the running daemon holds it: the SQLite store, the search snapshot the loop reads,
// and the watch on both. Another process (the CLI, a replicated record) committing a change makes
// it rebuild the snapshot; the file's integrity is checked periodically, and a gallery that fails
// the check (or any read) is reported on /readyz and in the log with its path, instead of going
// unnoticed until the next start.
import Database from 'better-sqlite3';
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { GalleryStore, ModelTag } from '../gallery/gallery-store.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { loadSnapshot, type LoadedSnapshot } from './gallery-snapshot.js';
import type { Logger } from './logger.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export const GALLERY_POLL_MS = 2000;
export const GALLERY_CHECK_MS = 60_000;

export class GalleryService implements Component {
  readonly name = 'gallery';
  private storeRef: GalleryStore | undefined;
  private current: LoadedSnapshot | undefined;
  /** The snapshot replaced last: a frame that took it just before the swap may still be searching it. */
  private retired: LoadedSnapshot | undefined;
  private timers: TimerHandle[] = [];
  private problem: string | null = null;
  private reloading: Promise<void> = Promise.resolve();

  /** Set while this service announces a reload, so it does not react to its own announcement. */
  private announcing = false;
  private unsubscribe: () => void = () => undefined;

  constructor(
    readonly path: string,
    /** Opens the store as the config says (key file, follower read-only). */
    private readonly open: () => GalleryStore,
    private readonly model: () => ModelTag,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly metrics: DaemonMetrics,
    private readonly clock: Clock = systemClock,
  ) {}

  async start(): Promise<void> {
    try {
      this.storeRef = this.open();
      this.storeRef.dataVersion();
    } catch (err) {
      throw new Error(`gallery ${this.path}: ${(err as Error).message.replace(`${this.path}: `, '')} (restore it from a backup or an export, or move it away to start with an empty gallery)`);
    }
    const problem = this.checkIntegrity();
    if (problem) throw new Error(`gallery ${this.path} is damaged (${problem}): restore it from a backup or an export (facegate gallery import), or move it away to start with an empty gallery`);
    await this.reload('start');
    this.timers.push(this.clock.setInterval(() => void this.reloadIfChanged(), GALLERY_POLL_MS));
    this.timers.push(this.clock.setInterval(() => this.checkIntegrity(), GALLERY_CHECK_MS));
    // Fleet sync writes replicated records through this same connection (data_version does not
    // move for our own writes): it says so on the bus, and the search snapshot is rebuilt.
    this.unsubscribe = this.bus.on('gallery.changed', (e) => {
      if (e.reason === 'replicated' && !this.announcing) void this.reload('replicated', e.personUuids);
    });
  }

  get store(): GalleryStore {
    if (!this.storeRef) throw new Error('the gallery is not open');
    return this.storeRef;
  }

  get snapshot(): LoadedSnapshot {
    if (!this.current) throw new Error('the gallery is not loaded');
    return this.current;
  }

  get loaded(): boolean {
    return this.current !== undefined;
  }

  /** null while healthy; else what is wrong with the file. */
  get health(): string | null {
    return this.problem;
  }

  /** Rebuilds the search snapshot (serialised: a reload never overlaps another). */
  reload(reason: string, personUuids?: string[]): Promise<void> {
    this.reloading = this.reloading.then(() => this.reloadNow(reason, personUuids));
    return this.reloading;
  }

  /**
   * Runs the integrity check now; returns the problem, or null. On a connection of its own, so it
   * reads the file as it is on disk, not the pages the daemon's connection has cached.
   */
  checkIntegrity(): string | null {
    if (!this.storeRef) return null;
    let result: string;
    let db: Database.Database | undefined;
    try {
      db = new Database(this.path, { readonly: true, fileMustExist: true });
      result = db.pragma('quick_check', { simple: true }) as string;
    } catch (err) {
      result = (err as Error).message;
    } finally {
      db?.close();
    }
    this.setProblem(result === 'ok' ? null : `integrity check failed: ${result}`);
    return this.problem;
  }

  /** A gallery read or write failed: if the file is broken, say so loudly. */
  noteFailure(err: Error): void {
    if (/malformed|not a database|corrupt|disk I\/O/i.test(err.message)) this.setProblem(err.message);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) this.clock.clearInterval(t);
    this.timers = [];
    this.unsubscribe();
    await this.reloading.catch(() => undefined);
    await this.retired?.release();
    await this.current?.release();
    this.current = undefined;
    this.retired = undefined;
    this.storeRef?.close();
    this.storeRef = undefined;
  }

  private async reloadNow(reason: string, personUuids?: string[]): Promise<void> {
    const store = this.storeRef;
    if (!store) return;
    let next: LoadedSnapshot;
    try {
      next = await loadSnapshot(store, this.model());
    } catch (err) {
      this.noteFailure(err as Error);
      this.log.error(`gallery ${this.path}: cannot load (${(err as Error).message}); recognition keeps the last good snapshot`);
      return;
    }
    // Snapshots hold an ONNX session for large galleries: released one generation late, so a frame
    // searching the replaced snapshot finishes first, and reloads never grow memory.
    const older = this.retired;
    this.retired = this.current;
    this.current = next;
    await older?.release();
    this.metrics.gallerySize.set(next.templates);
    this.log.info(`gallery: ${next.people} people, ${next.templates} templates of model ${next.modelId}${reason === 'start' ? '' : ` (${reason})`}`);
    this.announcing = true;
    try {
      this.bus.emit('gallery.changed', { people: next.people, templates: next.templates, reason, ...(personUuids ? { personUuids } : {}) });
    } finally {
      this.announcing = false;
    }
  }

  private async reloadIfChanged(): Promise<void> {
    const store = this.storeRef;
    if (!store || !this.current) return;
    let version: number;
    try {
      version = store.dataVersion();
    } catch (err) {
      this.noteFailure(err as Error);
      return;
    }
    if (version !== this.current.dataVersion) await this.reload('reload');
  }

  private setProblem(problem: string | null): void {
    if (problem && problem !== this.problem) this.log.error(`gallery ${this.path} is damaged: ${problem}. Doors keep working on the last good snapshot; restore the file from a backup or export and restart facegate`);
    if (!problem && this.problem) this.log.info(`gallery ${this.path}: integrity check passes again`);
    this.problem = problem;
    this.metrics.galleryHealthy.set(problem ? 0 : 1);
  }
}
