// Deterministic test bytes and their digests, shared by the protocol and interop tests.
import { createHash } from 'node:crypto';

/** `size` bytes counting 0..250 over and over: any shift or loss changes the digest. */
export function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
