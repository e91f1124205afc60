// ScgiParser's properties under jest; SLUICE_FUZZ_RUNS sets the inputs per property (see docs/fuzzing.md).
import fc from 'fast-check';
import { fuzzParameters } from './property';
import { SCGI_PROPERTIES } from './scgi.properties';

describe('ScgiParser properties', () => {
  test.each(SCGI_PROPERTIES.map((p) => [p.name, p]))('%s', (_name, property) => {
    const details = property.check(fuzzParameters());
    if (details.failed) throw new Error(fc.defaultReportMessage(details));
  });
});
