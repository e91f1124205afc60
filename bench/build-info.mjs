// What a benchmark ran on and which build it measured: shared by bench/e2e.mjs and bench/micro.mjs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function git(args, cwd = ROOT) {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Newest modification time below `dir`: tells whether dist/ is older than src/. */
export function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Short hash over dist/**\/*.js of a checkout: which build was measured (src/ may have moved on since). */
export function distHash(root = ROOT) {
  const dist = path.join(root, 'dist');
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of fs
      .readdirSync(dir, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js'))
        hash.update(path.relative(root, full)).update(fs.readFileSync(full));
    }
  };
  walk(dist);
  return hash.digest('hex').slice(0, 12);
}

/** Which build of sluice a checkout holds: its commit, whether src/ differs from it, and its dist/. */
export function buildOf(root = ROOT) {
  const dirty = git(['status', '--porcelain', '--', 'src'], root); // the code under test, not bench/ itself
  return {
    gitCommit: git(['rev-parse', '--short', 'HEAD'], root),
    gitDirty: dirty === undefined ? undefined : dirty !== '',
    distBuiltAt: fs.statSync(path.join(root, 'dist', 'index.js')).mtime.toISOString(),
    distSha256: distHash(root),
  };
}

/** The machine and the build, for the results file; each benchmark adds its own fields. */
export function machineAndBuild() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    ...buildOf(ROOT),
  };
}
