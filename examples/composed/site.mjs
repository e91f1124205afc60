// The gateway app under "/" in sluice.json, made once at load by createApp from the file's settings:
//
//   sluice serve --config examples/composed/sluice.json
//   curl -i localhost:8080/ ; curl -i localhost:8080/api/ ; sluice check-config --config examples/composed/sluice.json
//
// The Express app of examples/express is mounted under /api beside it, unchanged: it sees the path
// below the prefix, as under Express's own app.use('/api', …). The middleware wrap both.
export function createApp(settings) {
  const page = `<!doctype html>
<title>${settings.siteName}</title>
<h1>${settings.siteName}</h1>
<p>The API is an Express app at <a href="${settings.apiPrefix}/">${settings.apiPrefix}/</a>.</p>
`;
  return (environ, startResponse) => {
    if (environ.PATH_INFO !== '/' && environ.PATH_INFO !== '') {
      startResponse('404 Not Found', [['Content-Type', 'text/plain']]);
      return ['Not Found\n'];
    }
    startResponse('200 OK', [['Content-Type', 'text/html; charset=utf-8']]);
    return [page];
  };
}
