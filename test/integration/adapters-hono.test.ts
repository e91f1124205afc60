// hono behind sluice, unchanged: the shared framework cases over raw SCGI, raw FastCGI and nginx.
import { frameworkSuite } from './adapter-cases';

frameworkSuite('hono', 'test/fixtures/apps/frameworks/hono.mjs');
