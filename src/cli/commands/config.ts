import type { Command } from 'commander';
import { stringify } from 'yaml';
import { configDocsText, configOptions } from '../../config/docs.js';
import { describeConfigSource, loadConfigFor, locateConfig } from '../../config/load.js';
import { checkConfigFile } from '../../config/preflight.js';
import { CliError, info, printJson } from '../output.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('the YAML config: every option, checking a file, the effective values');
  config
    .command('docs')
    .description('every option with its default and meaning')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => (o.json ? printJson(configOptions()) : console.log(configDocsText())));
  config
    .command('check')
    .description('every check the daemon makes at start, without starting it: the schema, models and their sha256, the camera file/folder/device, GPIO, the gallery folder, MQTT secret files. One line per problem, with file, line and key; exit code 1 if there is any')
    .argument('[file]', 'config file (default: --config, $FACEGATE_CONFIG, ./facegate.yaml, /etc/facegate/facegate.yaml)')
    .option('--config <file>', 'config file (the same as the argument)')
    .option('--json', 'print JSON: {config, ok, problems: [{area, text}]}')
    .action(async (file: string | undefined, o: { config?: string; json?: boolean }) => {
      if (file && o.config && file !== o.config) throw new CliError(`two files given (${file} and --config ${o.config}): check one at a time`);
      const where = locateConfig(file ?? o.config);
      if (!where.path) throw new CliError(`nothing to check: ${where.foundBy}`);
      const result = await checkConfigFile(where.path);
      if (o.json) printJson({ config: where.path, foundBy: where.foundBy, ok: result.problems.length === 0, problems: result.findings });
      else if (result.problems.length === 0) console.log(`${where.path}: ok (schema, models, camera, GPIO, gallery and MQTT files checked)`);
      else {
        for (const line of result.problems) console.log(line);
        info(`${where.path}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`);
      }
      if (result.problems.length > 0) process.exitCode = 1;
    });
  config
    .command('show')
    .description('the effective config (file values over defaults)')
    .option('--config <file>', 'config file (default: $FACEGATE_CONFIG, ./facegate.yaml, /etc/facegate/facegate.yaml)')
    .option('--json', 'print JSON: {source, config}')
    .action((o: { config?: string; json?: boolean }) => {
      const loaded = loadConfigFor(o.config);
      if (o.json) return printJson({ source: { path: loaded.path, foundBy: loaded.foundBy }, config: loaded.config });
      console.log(`# ${describeConfigSource(loaded)}`);
      process.stdout.write(stringify(loaded.config));
    });
}
