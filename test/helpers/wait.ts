// Waiting in tests for what arrives by real I/O, by condition and never by a fixed time.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves once `ok()` holds, polling; for what arrives by real I/O (a socket, a child process).
 * The timeout only turns a hang into a failure with a message: nothing passes by waiting it out.
 */
export async function waitUntil(what: string, ok: () => boolean, timeoutMs = 30_000, context: () => string = () => ''): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}${context() ? `:\n${context()}` : ''}`);
    await sleep(10);
  }
}
