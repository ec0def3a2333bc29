import type { Command } from 'commander';
import { configPathFrom } from '../../app/gallery-context.js';
import { loadConfig } from '../../config/load.js';
import { Daemon } from '../../daemon/daemon.js';
import { createLogger } from '../../daemon/logger.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('the daemon: camera -> recognition -> door relays, with button enrollment, health endpoint and systemd notify')
    .option('--config <file>', 'config file (default ./facegate.yaml)')
    .action(async (o: { config?: string }) => {
      // A bad config is one clear error before any hardware is touched: the relay is never energised.
      const loaded = loadConfig(configPathFrom(o.config));
      const log = createLogger(loaded.config.logging);
      const daemon = new Daemon(loaded, { log });
      let signalled = false;
      const shutdown = (signal: string) => {
        if (signalled) return;
        signalled = true;
        log.info(`${signal}: stopping`);
        void daemon.stop().then(() => process.exit(0));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      try {
        await daemon.start();
      } catch (err) {
        await daemon.stop();
        throw err;
      }
      await daemon.finished();
      if (!signalled) {
        log.info('camera source ended (a file without loop: true): stopping');
        await daemon.stop();
      }
    });
}
