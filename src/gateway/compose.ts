// Middleware composition: compose(app, outer, inner) makes the request pass through them in the order written.
import type { App, Middleware } from './types';

/**
 * Wraps `app` in `middleware`; the first middleware listed is outermost, so a request passes through
 * them in the order written and the response comes back in reverse.
 */
export function compose(app: App, ...middleware: Middleware[]): App {
  return middleware.reduceRight<App>((inner, wrap) => wrap(inner), app);
}
