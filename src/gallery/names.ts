// Person names become MQTT payloads, folder names and log lines: keep them printable and path-safe.
export const MAX_NAME_LENGTH = 64;

export function validatePersonName(raw: string): string {
  const name = raw.normalize('NFC').trim();
  if (name.length === 0) throw new Error('person name is empty');
  if (name.length > MAX_NAME_LENGTH) throw new Error(`person name is longer than ${MAX_NAME_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new Error(`person name "${JSON.stringify(raw).slice(1, -1)}" contains control characters`);
  if (/[/\\]/.test(name)) throw new Error(`person name "${name}" contains a slash; use letters, digits, spaces, . - _ '`);
  if (!/^[\p{L}\p{N}][\p{L}\p{M}\p{N} ._'-]*$/u.test(name)) {
    throw new Error(`person name "${name}" has characters other than letters, digits, spaces and . - _ ' (or starts with one of those marks)`);
  }
  return name;
}
