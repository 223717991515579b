// `--help` on each command (CONTRACT §6), through the built bin: the usage yargs lays out,
// exit 0, nothing on stderr. The build patches yargs's command module (lib/build/build.mjs,
// lean-yargs: no help text laid out once a handler has started), so its help and its usage
// errors are checked as the bundle runs them.
import t from 'tap';
import { run } from '../helpers/run.js';

const COMMANDS: Array<[string[], string]> = [
  [[], 'adrater [command]'],
  [['cgi'], 'adrater cgi'],
  [['fcgi'], 'adrater fcgi'],
  [['db', 'init'], 'adrater db <action>'],
  [['import'], 'adrater import <file>'],
  [['queue'], 'adrater queue'],
  [['rating'], 'adrater rating <domain> <rating>'],
  [['bench'], 'adrater bench'],
];

for (const [command, usage] of COMMANDS) {
  t.test(`adrater ${command.join(' ')} --help`, async (t) => {
    const result = await run([...command, '--help'], {});
    t.equal(result.code, 0, 'exit 0');
    t.equal(result.stderr, '', 'nothing on stderr');
    const text = result.stdout.toString();
    t.equal(text.split('\n')[0], usage, 'its usage line first');
    t.match(text, /--db\s+database: mysql:\/\//, 'the global options');
    t.match(text, /-h, --help\s+Show help/, 'and --help');
  });
}

t.test('a usage error is one line on stderr, exit 2, with no help text', async (t) => {
  const result = await run(['queue', '--limit', 'x'], {});
  t.equal(result.code, 2);
  t.equal(result.stdout.toString(), '');
  t.match(result.stderr, /^adrater: .*--limit.*\(see adrater --help\)\n$/);
});
