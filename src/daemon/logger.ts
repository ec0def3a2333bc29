// pino: JSON lines for journald by default, one readable line per event for people (demo).
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(opts: { level: string; pretty: boolean }): Logger {
  if (!opts.pretty) return pino({ level: opts.level, base: undefined });
  return pino({ level: opts.level, base: undefined }, pretty({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true, sync: true }));
}
