// `sluice init DIR`: a runnable project from a template (app, config, test, deploy snippets), as `paster create` made one.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors';
import { EXIT } from '../process/exit-codes';
import type { CommandIo } from './request';

export const TEMPLATES = ['gateway', 'express', 'fastify', 'hono'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** The package each template's app imports; its version range is the one sluice itself is tested with. */
const FRAMEWORK: Readonly<Record<TemplateName, string | null>> = {
  gateway: null,
  express: 'express',
  fastify: 'fastify',
  hono: 'hono',
};

/** This sluice's package root, above src/ (ts-node) or dist/ (built): what the project depends on. */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
/** `common/` holds what every project gets; `<template>/` the app. */
const TEMPLATE_ROOT = path.join(PACKAGE_ROOT, 'templates');

/**
 * Characters the deploy snippets cannot carry unquoted: whitespace and quotes split nginx's and
 * systemd's words, `;{}` end nginx directives, `$` and `%` are expanded by nginx and systemd.
 */
const UNSAFE_PATH = /[\s"'`;{}$%\\]/;

export interface InitFlags {
  template: TemplateName;
  force?: boolean;
}

/** The values a template's `{{key}}` placeholders stand for. */
interface Values {
  /** The project's name: DIR's last part, as npm, systemd and /run take it. */
  readonly name: string;
  /** DIR's absolute path. */
  readonly dir: string;
  /** The node binary running this command: systemd finds no node on a PATH of its own. */
  readonly node: string;
  readonly template: TemplateName;
}

/**
 * Writes the project into `dir` (made if missing). A directory holding anything is refused unless
 * `force`; then files of the same name are overwritten and the rest left alone.
 *
 * @throws UsageError `ERR_INIT_NOT_EMPTY`, `ERR_INIT_PATH`, `ERR_INIT_TEMPLATE` or `ERR_INIT_WRITE`.
 */
export function runInit(dir: string, flags: InitFlags, io: Pick<CommandIo, 'stdout'>): number {
  const root = path.resolve(dir);
  if (UNSAFE_PATH.test(root)) {
    throw new UsageError(
      'ERR_INIT_PATH',
      `${root}: the deploy snippets cannot carry whitespace, quotes or any of ; { } $ % \\ in a path`,
    );
  }
  const values: Values = {
    name: projectName(root),
    dir: root,
    node: process.execPath,
    template: flags.template,
  };
  checkTarget(root, flags.force === true);
  const files = new Map<string, string>();
  for (const folder of ['common', flags.template]) {
    for (const file of templateFiles(path.join(TEMPLATE_ROOT, folder))) {
      const text = fs.readFileSync(path.join(TEMPLATE_ROOT, folder, file), 'utf8');
      files.set(fill(outputPath(file), values), fill(text, values));
    }
  }
  files.set('package.json', packageJson(values));
  try {
    for (const [file, text] of files) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    }
  } catch (error) {
    throw new UsageError(
      'ERR_INIT_WRITE',
      `cannot write the project into ${root}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const listing = [...files.keys()].sort().map((file) => `  ${file}\n`);
  io.stdout.write(
    `wrote a ${flags.template} project to ${root}:\n${listing.join('')}\n` +
      `next: cd ${path.relative(process.cwd(), root) || '.'} && npm install && npm test && npm start\n`,
  );
  return EXIT.OK;
}

/** DIR's last part, lower-cased, with what npm package names and systemd unit names refuse as `-`. */
function projectName(root: string): string {
  const name = path
    .basename(root)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '');
  if (name === '') {
    throw new UsageError('ERR_INIT_PATH', `${root}: no project name can be made of its last part`);
  }
  return name;
}

function checkTarget(root: string, force: boolean): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new UsageError(
      code === 'ENOTDIR' ? 'ERR_INIT_NOT_EMPTY' : 'ERR_INIT_WRITE',
      code === 'ENOTDIR' ? `${root} exists and is not a directory` : `cannot read ${root}: ${code}`,
    );
  }
  if (entries.length > 0 && !force) {
    throw new UsageError(
      'ERR_INIT_NOT_EMPTY',
      `${root} is not empty: give --force to write the project into it (files of the same names are replaced)`,
    );
  }
}

/** The files under `folder`, relative to it. */
function templateFiles(folder: string): string[] {
  try {
    return fs
      .readdirSync(folder, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name)));
  } catch (error) {
    throw new UsageError(
      'ERR_INIT_TEMPLATE',
      `the templates of this sluice are missing (${folder}: ${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

/** `gitignore` becomes `.gitignore`: npm leaves a package's own .gitignore files out of it. */
function outputPath(file: string): string {
  return file === 'gitignore' ? '.gitignore' : file;
}

function fill(text: string, values: Values): string {
  return text.replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => {
    if (!(key in values)) {
      throw new UsageError('ERR_INIT_TEMPLATE', `a template holds an unknown placeholder ${placeholder}`);
    }
    return values[key as keyof Values];
  });
}

/**
 * sluice is not on the npm registry: it is depended on by the path it runs from (`file:`), which
 * npm links; a version range would fetch whatever else the registry holds under the name.
 */
function packageJson(values: Values): string {
  const own = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
    engines: Record<string, string>;
  };
  const dependencies: Record<string, string> = { sluice: `file:${PACKAGE_ROOT}` };
  const framework = FRAMEWORK[values.template];
  if (framework !== null) dependencies[framework] = own.devDependencies[framework];
  const manifest = {
    name: values.name,
    version: '0.1.0',
    private: true,
    description: `A ${values.template} app served by sluice`,
    type: 'module',
    scripts: { start: 'sluice serve --config sluice.json', test: 'node --test' },
    dependencies,
    engines: own.engines,
  };
  return JSON.stringify(manifest, null, 2) + '\n';
}
