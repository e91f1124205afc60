// RecordParser's and the pair codec's properties under jest; SLUICE_FUZZ_RUNS sets the inputs per property.
import fc from 'fast-check';
import { FASTCGI_PROPERTIES } from './fastcgi.properties';
import { PAIRS_PROPERTIES } from './pairs.properties';
import { fuzzParameters } from './property';

describe.each([
  ['RecordParser properties', FASTCGI_PROPERTIES],
  ['pair codec properties', PAIRS_PROPERTIES],
])('%s', (_group, properties) => {
  test.each(properties.map((p) => [p.name, p]))('%s', (_name, property) => {
    const details = property.check(fuzzParameters());
    if (details.failed) throw new Error(fc.defaultReportMessage(details));
  });
});
