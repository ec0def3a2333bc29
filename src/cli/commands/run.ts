import type { Command } from 'commander';
import { constants } from 'node:os';
import { describeConfigSource, loadConfigFor } from '../../config/load.js';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger } from '../../daemon/logger.js';

/** Clean stops: systemd does not restart after these. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/**
 * Every other catchable signal that would end the process: handled like SIGTERM (relays released,
 * state published, a log line), but the exit code says we were killed, so `Restart=on-failure`
 * brings the daemon back. SIGKILL and SIGSEGV cannot be caught: see the README's wiring notes.
 */
const FAILURE_SIGNALS = ['SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGPIPE', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF'] as const;
/** A stop that hangs (a stuck broker connection) must not keep the process alive for ever. */
const STOP_DEADLINE_MS = 10_000;

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('the daemon: camera -> recognition -> door relays, with button enrollment, health endpoint and systemd notify')
    .option('--config <file>', 'config file (default: $FACEGATE_CONFIG, ./facegate.yaml, /etc/facegate/facegate.yaml)')
    .action(async (o: { config?: string }) => {
      // A bad config is one clear error before any hardware is touched: the relay is never energised.
      const loaded = loadConfigFor(o.config);
      const log = createLogger(loaded.config.logging);
      log.info(describeConfigSource(loaded));
      const daemon = new Daemon(loaded, { log });
      let ending = false;
      const end = (why: string, code: number) => {
        if (ending) return;
        ending = true;
        daemon.releaseRelays();
        const deadline = setTimeout(() => {
          process.stderr.write(`facegate: stopping took over ${STOP_DEADLINE_MS / 1000} s; exiting with the relays released\n`);
          process.exit(code || 1);
        }, STOP_DEADLINE_MS);
        deadline.unref();
        void daemon.stop().finally(() => process.exit(code));
        log[code === 0 ? 'info' : 'warn'](`${why}: stopping`);
      };
      for (const signal of STOP_SIGNALS) process.on(signal, () => end(signal, 0));
      for (const signal of FAILURE_SIGNALS) process.on(signal, () => end(`${signal} (treated as a failure: systemd restarts the service)`, 128 + constants.signals[signal]));
      // A bug must not leave a door open or its retained MQTT state "unlocked": release, publish
      // "locked", then exit non-zero (the relay's own exit handler is the last line of defence).
      process.on('uncaughtException', (err) => {
        log.fatal({ err: err.stack ?? err.message }, `crashed: ${err.message}`);
        end('crash', 70);
      });
      process.on('unhandledRejection', (reason) => {
        const err = reason instanceof Error ? reason : new Error(String(reason));
        log.fatal({ err: err.stack ?? err.message }, `crashed (unhandled rejection): ${err.message}`);
        end('crash', 70);
      });
      try {
        await daemon.start();
      } catch (err) {
        await daemon.stop();
        throw err;
      }
      await daemon.finished();
      if (!ending) {
        log.info('camera source ended (a file without loop: true): stopping');
        await daemon.stop();
      }
    });
}
