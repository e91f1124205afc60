// `sluice.errors`: a Writable for an app's error text, routed wherever the protocol can carry it.
import { Writable } from 'node:stream';

/** Collects text written by the app and hands each write to `sink` (the log, or FCGI_STDERR records). */
export function errorsStream(sink: (text: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      sink(chunk);
      callback();
    },
  });
}
