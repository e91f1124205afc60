// The V8 settings a serving process of sluice's own runs with (not a program that embeds sluice).
import v8 from 'node:v8';

/**
 * V8 allocates objects of an object or array literal straight in the old generation once most of
 * them outlived a young-generation collection ("allocation-site pretenuring"). A request's objects
 * die within the request, but a few collections that fall while requests are in flight (start-up,
 * a burst) can mark such a site for good. From then on each request's literal is born old, and the
 * young objects it points to (the environ, the request, Node's IncomingMessage and ServerResponse)
 * outlive every young collection until a full one finds them dead: young collections copy them,
 * promote them, and full collections follow every few hundred milliseconds.
 *
 * Measured with bench/adapter-cpu.mjs on item routes (a JSON body read by the framework): a
 * quarter of every young collection promoted with the setting on, nothing with it off; garbage
 * collection from 18 % to 6 % of the busy time of Fastify's, and CPU per request down by about two
 * fifths for Fastify and Koa, a fifth for Express. The same apps on node:http promote nothing
 * there (Express apart, which promotes as much on either server). The hello routes did not move.
 * What it costs: objects that live through a burst are copied through the young generation, which
 * V8 then grows over a few bursts instead of one, so resident memory settles later (docs/faults.md).
 */
const PRETENURING = 'allocation-site-pretenuring';

/**
 * Turns V8's allocation-site pretenuring off, unless the node command line set it either way (node
 * refuses V8 flags of this kind in NODE_OPTIONS): the user's choice wins. Call before the app loads.
 */
export function tuneEngine(
  setFlags: (flags: string) => void = v8.setFlagsFromString,
  execArgv: readonly string[] = process.execArgv,
): boolean {
  if (commandLineSets(execArgv, [PRETENURING])) return false;
  setFlags(`--no-${PRETENURING}`);
  return true;
}

/**
 * Where the old generation's first limit starts in the workers sluice forks (MiB). Without it V8
 * sets that limit a few MiB above what survives start-up, and (going by --trace-incremental-marking,
 * which reported the limit reached with the heap far below it) counts the request bodies' buffers
 * allocated since the last full collection against it: with many bodies in flight (50 uploads
 * through nginx) a process serving alone ran a full collection after nearly every young one, 132
 * in 12 s where node:http ran 1, and marking took 40 % of its CPU. Through nginx with two workers,
 * against node:http in the same run, before and after: the 10 MiB upload from 4.16× to 1.58×
 * node:http's CPU per request, the 1 MiB echo from 2.32× to 1.08×, hello from 1.29× to 1.09×; peak
 * resident memory under the uploads about 28 MiB more per worker, the same again once idle
 * (docs/deploy.md). V8 reads it only when a process starts, so it goes on the workers' command
 * line; a process serving alone needs `node --initial-old-space-size=64` (node refuses it in
 * NODE_OPTIONS).
 */
export const WORKER_INITIAL_OLD_SPACE_MB = 64;
const INITIAL_OLD_SPACE = 'initial-old-space-size';
const INITIAL_HEAP = 'initial-heap-size';

/**
 * The node command line of a worker: the primary's, with the old generation's first limit set
 * unless that command line sizes the heap's start itself (`--initial-old-space-size`,
 * `--initial-heap-size`): the user's choice wins.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  if (commandLineSets(execArgv, [INITIAL_OLD_SPACE, INITIAL_HEAP])) return [...execArgv];
  return [...execArgv, `--${INITIAL_OLD_SPACE}=${WORKER_INITIAL_OLD_SPACE_MB}`];
}

/**
 * Whether node's command line sets one of these V8 flags, whichever way: `--name`, `--no-name` or
 * `--name=value`, with `-` or `_` between the words as V8 accepts both.
 */
function commandLineSets(execArgv: readonly string[], names: readonly string[]): boolean {
  return execArgv.some((arg) => {
    const flag = arg.replace(/_/g, '-').replace(/^--(no-)?/, '');
    return names.includes(flag.split('=')[0]);
  });
}
