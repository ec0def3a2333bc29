// Embeddings as SQLite BLOBs: the float32 bytes as they are in memory, and back.

export function float32ToBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function blobToFloat32(b: Uint8Array): Float32Array {
  // Copy: SQLite's (and a decipher's) buffer is not guaranteed 4-byte aligned.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}
