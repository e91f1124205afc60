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
  if (execArgv.some((arg) => arg.replace(/_/g, '-').endsWith(PRETENURING))) return false;
  setFlags(`--no-${PRETENURING}`);
  return true;
}
