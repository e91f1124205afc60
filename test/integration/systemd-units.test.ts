// The shipped units under deploy/systemd pass systemd's own checks (systemd-analyze verify): no
// unknown or misspelled keys, valid sockets and dependencies, executables that exist.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, SLUICE_BIN } from '../helpers/daemon';
import { requireBinary } from '../helpers/frontends';

const UNITS = path.join(REPO_ROOT, 'deploy/systemd');
const itVerified = requireBinary('systemd-analyze') ? it : it.skip;

/**
 * Copies the units to a temp dir, with /usr/bin/sluice pointing at this checkout (verify checks
 * that ExecStart= is executable), and runs systemd-analyze verify on `names` there.
 */
function verify(
  names: string[],
  edit: (unit: string) => string = (u) => u,
): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-units-'));
  for (const file of fs.readdirSync(UNITS)) {
    const text = fs.readFileSync(path.join(UNITS, file), 'utf8').replaceAll('/usr/bin/sluice', SLUICE_BIN);
    fs.writeFileSync(path.join(dir, file), edit(text));
  }
  // A template is verified through an instance of it.
  if (fs.existsSync(path.join(dir, 'sluice@.service')))
    fs.copyFileSync(path.join(dir, 'sluice@.service'), path.join(dir, 'sluice@blog.service'));
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', ...names.map((n) => `./${n}`)], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
  });
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe('deploy/systemd units', () => {
  itVerified('sluice.service with sluice.socket: no warnings', () => {
    expect(verify(['sluice.service', 'sluice.socket'])).toEqual({ status: 0, output: '' });
  });

  itVerified('sluice@.service (as sluice@blog.service): no warnings', () => {
    expect(verify(['sluice@blog.service'])).toEqual({ status: 0, output: '' });
  });

  itVerified('a misspelled key is reported (the check above can fail)', () => {
    const result = verify(['sluice.service'], (unit) => unit.replace('NoNewPrivileges=', 'NoNewPrivilegez='));
    expect(result.output).toContain("Unknown key 'NoNewPrivilegez'");
  });
});
