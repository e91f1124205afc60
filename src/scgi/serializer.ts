// The client side of SCGI: a request's netstring header block (used by clients, the bridge and tests).

/**
 * `<len>:CONTENT_LENGTH\0<n>\0SCGI\01\0…,` for the given variables; CONTENT_LENGTH and SCGI are
 * written first whatever `vars` holds, as the spec requires.
 */
export function serializeScgiHeaders(
  vars: Iterable<readonly [string, string]>,
  contentLength: number,
): Buffer {
  let block = 'CONTENT_LENGTH\0' + contentLength + '\0SCGI\x001\0';
  for (const [name, value] of vars) {
    if (name === 'CONTENT_LENGTH' || name === 'SCGI') continue;
    block += name + '\0' + value + '\0';
  }
  const bytes = Buffer.byteLength(block, 'latin1');
  return Buffer.from(bytes + ':' + block + ',', 'latin1');
}
