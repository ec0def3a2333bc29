// Scale pyramid of the MTCNN paper: the smallest face we want (minsize) is mapped onto P-Net's
// 12x12 receptive field, then the image shrinks by `factor` until it is smaller than 12 px.
export const PNET_CELL = 12;

export function pyramidScales(width: number, height: number, minSize: number, factor: number): number[] {
  if (!(factor > 0 && factor < 1)) throw new Error(`pyramid factor must be in (0, 1), got ${factor}`);
  if (!(minSize > 0)) throw new Error(`minsize must be positive, got ${minSize}`);
  const scales: number[] = [];
  const m = PNET_CELL / minSize;
  let side = Math.min(width, height) * m;
  let scale = m;
  while (side >= PNET_CELL) {
    scales.push(scale);
    scale *= factor;
    side *= factor;
  }
  return scales;
}

/** Size of the image resized for one pyramid level (rounded up, as the reference implementation does). */
export function scaledSize(width: number, height: number, scale: number): { width: number; height: number } {
  return { width: Math.ceil(width * scale), height: Math.ceil(height * scale) };
}
