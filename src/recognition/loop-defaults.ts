// Defaults of the track-centric loop, shared by the config schema and the loop itself (no
// imports, so loading the config does not load OpenCV or ONNX Runtime). Measured and argued in
// README "Recognition loop"; where a figure comes from, the comment says.

export interface RegionSettings {
  /** Search only around tracked faces, with a full-frame search every `fullFrameEveryMs`. */
  enabled: boolean;
  /** Margin around a predicted face box, in face sides, on each side. */
  margin: number;
  /** Smallest face looked for in a track's region, as a share of its face side. */
  minSizeRatio: number;
  /** Full-frame search at least this often: the longest a new arrival next to a tracked face goes unseen. */
  fullFrameEveryMs: number;
}

export interface VisitSettings {
  /**
   * A track whose faces all fail the quality gate waits this long (from its first sighting) for a
   * usable face before a clearly matching poor face may decide it.
   */
  qualityWaitMs: number;
  /** A face below the gate votes for a person only with a score this much above the match threshold. */
  poorMatchMargin: number;
  /** A decided track's face is embedded again this often, so a changed person is caught. */
  recheckMs: number;
}

export const DEFAULT_REGIONS: RegionSettings = {
  enabled: true,
  // Half a face side each side: a face moving at walking speed toward a door camera at 15 fps
  // moves well under that between frames; more only makes P-Net's work bigger.
  margin: 0.5,
  // Faces grow as people approach and shrink when they turn away; 0.6 keeps both in range of the
  // pyramid while skipping its finest (most expensive) levels.
  minSizeRatio: 0.6,
  fullFrameEveryMs: 200,
};

export const DEFAULT_VISIT: VisitSettings = {
  qualityWaitMs: 800,
  poorMatchMargin: 0.1,
  recheckMs: 1000,
};
