// World-readable copies of checkout files for processes that run as another user (PHP-FPM's and a
// web server's workers, `--user nobody`): a checkout in a home of mode 0700 (/root) is not theirs
// to read, so what they must read is staged in a temporary directory instead.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './daemon';

/** Makes `target` and everything under it readable by all, directories searchable; keeps x bits. */
function openToAll(target: string): void {
  const stat = fs.statSync(target);
  if (stat.isDirectory()) {
    fs.chmodSync(target, 0o755);
    for (const entry of fs.readdirSync(target)) openToAll(path.join(target, entry));
  } else {
    fs.chmodSync(target, stat.mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * Copies each of `files` (paths relative to the checkout: files or directories) to the same relative
 * path under `dir`, readable by every user; `dir` itself must be searchable by them.
 */
export function stageFiles(dir: string, files: readonly string[]): void {
  for (const file of files) {
    const target = path.join(dir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Whatever the umask made of the directories on the way.
    for (let parent = path.dirname(target); parent.startsWith(dir); parent = path.dirname(parent))
      fs.chmodSync(parent, 0o755);
    fs.cpSync(path.join(REPO_ROOT, file), target, { recursive: true, dereference: true });
    openToAll(target);
  }
}

/** What bin/sluice needs to run `sluice bridge`, which loads no package from node_modules. */
export const BRIDGE_FILES = ['bin/sluice', 'dist', 'package.json'] as const;

export interface Staged {
  /** The directory (mode 0755); checkout paths keep their relative place under it. */
  readonly dir: string;
  /** The staged copy of a checkout path. */
  at(file: string): string;
  remove(): void;
}

/** A new world-readable temporary directory holding copies of `files` (see stageFiles). */
export function stage(files: readonly string[]): Staged {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-staged-'));
  fs.chmodSync(dir, 0o755);
  stageFiles(dir, files);
  return {
    dir,
    at: (file) => path.join(dir, file),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * What bin/sluice needs to run `sluice serve`: BRIDGE_FILES and the packages it depends on, with
 * theirs (node_modules/<name>, the flat layout npm installs), for a user who may not read the checkout.
 */
export function serveFiles(): string[] {
  const modules = new Set<string>();
  const visit = (name: string): void => {
    const dir = path.join('node_modules', name);
    if (modules.has(dir) || !fs.existsSync(path.join(REPO_ROOT, dir, 'package.json'))) return;
    modules.add(dir);
    for (const dependency of dependenciesOf(path.join(REPO_ROOT, dir))) visit(dependency);
  };
  for (const dependency of dependenciesOf(REPO_ROOT)) visit(dependency);
  return [...BRIDGE_FILES, ...modules];
}

function dependenciesOf(packageDir: string): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  return Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies });
}
