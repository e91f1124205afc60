// SCGI through real front ends started from the shipped configs: nginx scgi_pass, Apache mod_proxy_scgi, lighttpd mod_scgi.
import { interopSuite } from './interop-cases';

interopSuite('scgi', [
  { label: 'nginx', name: 'nginx', file: 'deploy/nginx/sluice-scgi.conf', via: 'unix' },
  { label: 'apache', name: 'apache', file: 'deploy/apache/sluice-scgi.conf', via: 'unix' },
  { label: 'lighttpd', name: 'lighttpd', file: 'deploy/lighttpd/sluice-scgi.conf', via: 'tcp' },
]);
