// Shared by middleware that look at a response on its way out: the body's chunks, its close().
import type { Body, Chunk } from '../gateway/types';

/** A body whose every chunk is known before anything is sent (the driver then sets Content-Length). */
export function isWhole(body: Body): body is Chunk | readonly Chunk[] {
  return typeof body === 'string' || body instanceof Uint8Array || Array.isArray(body);
}

/** The chunks of a whole body, as an array. */
export function wholeChunks(body: Chunk | readonly Chunk[]): Chunk[] {
  return typeof body === 'string' || body instanceof Uint8Array ? [body] : [...body];
}

export function byteLength(chunk: Chunk): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
}

export function toBuffer(chunk: Chunk): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Calls the body's own close(), as PEP 3333 asks of anything that replaces a body. */
export async function closeBody(body: unknown): Promise<void> {
  const close = (body as { close?: unknown } | null | undefined)?.close;
  if (typeof close === 'function') await close.call(body);
}

/**
 * The same body, observed: `onChunk` sees each chunk as the driver takes it, and `onClose` runs when
 * the driver closes the body (response complete or abandoned), before the body's own close(). A
 * whole body stays an array, so the driver still knows its length.
 */
export function observeBody(body: Body, onChunk: ((chunk: Chunk) => void) | null, onClose: () => void): Body {
  const close = async (): Promise<void> => {
    onClose();
    await closeBody(body);
  };
  if (isWhole(body)) {
    const chunks = wholeChunks(body);
    if (onChunk !== null) for (const chunk of chunks) onChunk(chunk);
    return Object.assign(chunks, { close });
  }
  const source = body as Iterable<Chunk> | AsyncIterable<Chunk>;
  if (Symbol.asyncIterator in source) {
    return {
      [Symbol.asyncIterator]() {
        const iterator = source[Symbol.asyncIterator]();
        return observed(iterator, onChunk);
      },
      close,
    } as AsyncIterable<Chunk>;
  }
  return {
    [Symbol.iterator]() {
      return observed(source[Symbol.iterator](), onChunk);
    },
    close,
  } as Iterable<Chunk>;
}

function observed<I extends Iterator<Chunk> | AsyncIterator<Chunk>>(
  iterator: I,
  onChunk: ((chunk: Chunk) => void) | null,
): I {
  if (onChunk === null) return iterator;
  const see = (step: IteratorResult<Chunk>): IteratorResult<Chunk> => {
    if (!step.done) onChunk(step.value);
    return step;
  };
  return {
    next() {
      const step = iterator.next();
      // A thenable test, not instanceof: promises from another realm (a vm context) are promises too.
      return typeof (step as Promise<IteratorResult<Chunk>>).then === 'function'
        ? (step as Promise<IteratorResult<Chunk>>).then(see)
        : see(step as IteratorResult<Chunk>);
    },
    return: iterator.return?.bind(iterator),
  } as I;
}
