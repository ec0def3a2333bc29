// The recognition section of the config as the loop's settings (daemon and bench use the same).
import type { z } from 'zod';
import type { RecognitionConfig } from '../config/schema.js';
import type { LoopSettings } from './recognition-loop.js';

export function trackSettings(r: z.infer<typeof RecognitionConfig>): Pick<LoopSettings, 'tracker' | 'fusion'> & Required<Pick<LoopSettings, 'regions' | 'visit'>> {
  return {
    tracker: { minIou: r.trackMinIou, maxGapMs: r.trackMaxGapMs },
    fusion: { n: r.fusionN, m: r.fusionM },
    regions: { enabled: r.roiTracking, margin: r.roiMargin, minSizeRatio: r.roiMinSizeRatio, fullFrameEveryMs: r.fullFrameEveryMs },
    visit: { qualityWaitMs: r.qualityWaitMs, poorMatchMargin: r.poorMatchMargin, recheckMs: r.recheckMs },
  };
}
