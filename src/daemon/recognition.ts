// The recognition loop as a component: frames from the camera port, decisions and per-frame
// reports onto the bus. The loop itself (src/recognition/) stays free of the daemon.
import type { Component } from '../core/component.js';
import type { EventBus } from '../core/event-bus.js';
import type { FaceAnalyzer } from '../vision/face-analyzer.js';
import { DoorPolicy, type DoorRule } from '../recognition/door-policy.js';
import { RecognitionLoop, type FramePort, type FrameReport, type GallerySnapshot, type LoopFrame, type LoopSettings } from '../recognition/recognition-loop.js';
import type { ButtonEnrollment } from '../recognition/button-enrollment.js';
import type { Logger } from './logger.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export class Recognition implements Component {
  readonly name = 'recognition loop';
  private loop: RecognitionLoop | undefined;

  constructor(
    private readonly deps: {
      frames: FramePort;
      /** Ends the frame supply: the loop may be waiting for a frame that never comes (camera lost). */
      stopFrames: () => Promise<void>;
      analyzer: () => FaceAnalyzer;
      gallery: () => GallerySnapshot;
      personUuid: (personId: number) => string | undefined;
      doors: DoorRule[];
      settings: LoopSettings;
      enrollment: () => ButtonEnrollment | undefined;
      bus: EventBus;
      log: Logger;
      metrics: DaemonMetrics;
    },
  ) {}

  start(): void {
    const d = this.deps;
    this.loop = new RecognitionLoop(d.frames, d.analyzer(), d.gallery, new DoorPolicy(d.doors), d.settings, {
      onEvent: (e) => {
        const uuid = e.person ? d.personUuid(e.person.id) : undefined;
        d.bus.emit('decision', e.person && uuid ? { ...e, person: { ...e.person, uuid } } : e);
      },
      onFrame: (report, frame) => this.onFrame(report, frame),
      onError: (err) => d.log.error({ err: err.message }, `frame failed: ${err.message}`),
      needEmbeddings: () => d.enrollment()?.capturing ?? false,
    });
    this.loop.start();
  }

  /** Resolves when the frame source ended (a video file played to its end without loop). */
  finished(): Promise<void> {
    return this.loop?.finished() ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    const stopped = this.loop?.stop();
    await this.deps.stopFrames();
    await stopped;
  }

  private onFrame(report: FrameReport, frame: LoopFrame): void {
    const d = this.deps;
    const { timings, faces } = report;
    d.metrics.framesProcessed.inc();
    for (const [stage, ms] of Object.entries(timings)) d.metrics.stageSeconds.observe({ stage }, ms / 1000);
    const enrollment = d.enrollment();
    if (enrollment?.capturing) enrollment.offer(report.analysis, frame.mat, `frame ${frame.seq}`);
    d.bus.emit('frame.analysed', { seq: frame.seq, capturedAtMs: frame.capturedAtMs, width: frame.mat.cols, height: frame.mat.rows, faces, timings, image: frame.mat });
  }
}
