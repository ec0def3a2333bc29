import type { DetectedFace } from './detection/face-detector.js';

/** Plain-text lines for people: one header per image, one line per face. */
export function formatFaces(file: string, w: number, h: number, faces: DetectedFace[]): string[] {
  const lines = [`${file} (${w}x${h}): ${faces.length} face${faces.length === 1 ? '' : 's'}`];
  faces.forEach((f, i) => {
    const lm = f.landmarks.map(([x, y]) => `[${x.toFixed(1)}, ${y.toFixed(1)}]`).join(' ');
    lines.push(`  #${i + 1} box [${f.box.map((v) => v.toFixed(1)).join(', ')}] score ${f.score.toFixed(4)} landmarks ${lm}`);
  });
  return lines;
}
