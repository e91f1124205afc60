// express behind sluice, unchanged: the shared framework cases over raw SCGI, raw FastCGI and nginx.
import { frameworkSuite } from './adapter-cases';

frameworkSuite('express', 'test/fixtures/apps/frameworks/express.mjs');
