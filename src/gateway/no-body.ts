// The body an adapted app returns when its response went out through write() or must have none.
import type { Body } from './types';

/**
 * Empty, and not an array: the driver infers a Content-Length only from an array body, and a
 * length of 0 would be wrong for a HEAD response or one whose bytes were all written already. The
 * driver knows it and finishes the response at once, without iterating.
 */
export const NO_BODY: Body = Object.freeze({ *[Symbol.iterator]() {} });
