/** MTCNN settings; defaults are the seed's (and the paper's reference implementation). */
export interface MtcnnOptions {
  /** Smallest face side in pixels that the pyramid looks for. */
  minSize: number;
  /** Face-probability thresholds of P-, R- and O-Net. */
  thresholds: [number, number, number];
  /** Pyramid scale step. */
  factor: number;
  /** Crops per R-/O-Net batch. */
  maxBatch: number;
}

export const DEFAULT_MTCNN_OPTIONS: MtcnnOptions = {
  minSize: 20,
  thresholds: [0.6, 0.7, 0.7],
  factor: 0.709,
  maxBatch: 64,
};

/** NMS overlap limits of the reference implementation, per step. */
export const NMS = {
  perScale: 0.5,
  stage1: 0.7,
  stage2: 0.7,
  stage3: 0.7,
} as const;
