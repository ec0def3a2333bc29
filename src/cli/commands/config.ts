import type { Command } from 'commander';
import { stringify } from 'yaml';
import { configDocsText, configOptions } from '../../config/docs.js';
import { loadConfig } from '../../config/load.js';
import { configPathFrom } from '../../app/gallery-context.js';
import { printJson } from '../output.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('the YAML config: every option, checking a file, the effective values');
  config
    .command('docs')
    .description('every option with its default and meaning')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => (o.json ? printJson(configOptions()) : console.log(configDocsText())));
  config
    .command('check')
    .description('validate a config file: one line per problem, with line and key; exit code 1 when invalid')
    .argument('<file>')
    .action((file: string) => {
      loadConfig(file);
      console.log(`${file}: ok`);
    });
  config
    .command('show')
    .description('the effective config (file values over defaults)')
    .option('--config <file>', 'config file (default ./facegate.yaml)')
    .option('--json', 'print JSON')
    .action((o: { config?: string; json?: boolean }) => {
      const loaded = loadConfig(configPathFrom(o.config));
      if (o.json) return printJson(loaded.config);
      console.log(`# ${loaded.path ?? 'built-in defaults (no config file)'}`);
      process.stdout.write(stringify(loaded.config));
    });
}
