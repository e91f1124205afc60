// koa behind sluice, unchanged: the shared framework cases over raw SCGI, raw FastCGI and nginx.
import { frameworkSuite } from './adapter-cases';

frameworkSuite('koa', 'test/fixtures/apps/frameworks/koa.mjs');
