// fastify behind sluice, unchanged: the shared framework cases over raw SCGI, raw FastCGI and nginx.
import { frameworkSuite } from './adapter-cases';

frameworkSuite('fastify', 'test/fixtures/apps/frameworks/fastify.mjs');
