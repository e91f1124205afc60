// The rig's network helpers: a subnet clear of this machine's, and namespaces left by a run that
// died removed by the next. Needs root like the rig; skipped with a warning elsewhere.
import { execFileSync, spawnSync } from 'node:child_process';
import { freeSubnet, removeStaleNamespaces } from './network';
import { rigAvailable } from './rig';

const describeRig = rigAvailable() ? describe : describe.skip;

const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

describeRig('the multi-host rig network', () => {
  test('its subnet is no network an address or route of this machine is on', () => {
    const subnet = freeSubnet();
    expect(subnet).toMatch(/^10\.\d+\.\d+$/);
    const used = execFileSync('ip', ['-o', '-4', 'addr'], { encoding: 'utf8' });
    expect(used).not.toContain(`${subnet}.`);
  });

  test("namespaces of a run whose PID is dead are removed, a live run's are kept", () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const stale = `sluice-${dead}-fe`;
    const live = `sluice-${process.ppid}-fe`;
    execFileSync('ip', ['netns', 'add', stale]);
    execFileSync('ip', ['netns', 'add', live]);
    try {
      expect(removeStaleNamespaces()).toContain(stale);
      expect(namespaces()).not.toContain(stale);
      expect(namespaces()).toContain(live);
    } finally {
      execFileSync('ip', ['netns', 'del', live]);
      spawnSync('ip', ['netns', 'del', stale]);
    }
  });
});
