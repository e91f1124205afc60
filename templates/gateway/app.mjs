// {{name}}: a sluice gateway app, (environ, startResponse) as PEP 3333's WSGI has it.
// Run it with `npm start` (sluice.json), test it with `npm test`.

/** @type {import('sluice').App} */
export default function app(environ, startResponse) {
  if (environ.PATH_INFO === '/') {
    startResponse('200 OK', [['Content-Type', 'text/plain; charset=utf-8']]);
    return `Hello from {{name}} over ${environ['sluice.protocol']}!\n`;
  }
  startResponse('404 Not Found', [['Content-Type', 'text/plain; charset=utf-8']]);
  return 'Not Found\n';
}
