// pino: JSON lines for journald by default, one readable line per event for people (demo).
//
// Priorities: journald files every stdout line of a service at the unit's default priority (info)
// unless the line starts with a syslog prefix "<N>" (SyslogLevelPrefix=, on by default), which it
// strips and uses. So when stdout is the journal, each JSON line gets the prefix of its pino level
// and `journalctl -u facegate -p warning` shows warnings and errors only, while the message itself
// stays one JSON object for machines. The prefix is chosen per level by a multistream, so no line
// is parsed again. We keep everything on stdout (rather than warn/error on stderr) so that the
// order of lines in the journal is the order they were logged. Anywhere else (a terminal, a pipe,
// tests) the lines carry no prefix.
import { fstatSync } from 'node:fs';
import { pino, type Logger, type Level, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** syslog(3) priorities: 2 crit, 3 err, 4 warning, 6 info, 7 debug. */
export const SYSLOG_PRIORITY: Record<Level, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/**
 * True when fd 1 is the journal stream systemd connected: $JOURNAL_STREAM is "<device>:<inode>"
 * of that stream (systemd.exec(5)); a redirected stdout no longer matches it.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const js = env.JOURNAL_STREAM;
  if (!js) return false;
  try {
    const st = fstatSync(fd);
    return js === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** One stream per pino level, each prefixing its lines with that level's syslog priority. */
export function journaldStreams(write: (line: string) => void): pino.StreamEntry[] {
  return (Object.keys(SYSLOG_PRIORITY) as Level[]).map((level) => ({
    level,
    stream: { write: (line: string) => write(`<${SYSLOG_PRIORITY[level]}>${line}`) } satisfies DestinationStream,
  }));
}

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** Prefix lines with syslog priorities; default: when stdout is the journal. */
  journald?: boolean;
  /** Where lines go (tests); default stdout. */
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions): Logger {
  if (opts.pretty) return pino({ level: opts.level, base: undefined }, pretty({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true, sync: true }));
  const write = opts.write ?? ((line: string) => void process.stdout.write(line));
  if (opts.journald ?? stdoutIsJournal()) {
    // dedupe: a line goes only to the stream of its own level, not to every lower one too.
    return pino({ level: opts.level, base: undefined }, pino.multistream(journaldStreams(write), { dedupe: true }));
  }
  if (opts.write) return pino({ level: opts.level, base: undefined }, { write });
  return pino({ level: opts.level, base: undefined });
}
