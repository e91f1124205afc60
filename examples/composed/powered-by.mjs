// A middleware module as sluice.json names it: (options) => (app) => app, here adding X-Powered-By.
export default function poweredBy(options) {
  const header = ['X-Powered-By', String(options.value)];
  return (app) => (environ, startResponse) =>
    app(environ, (status, headers, excInfo) =>
      startResponse(
        status,
        [...headers.filter(([name]) => name.toLowerCase() !== 'x-powered-by'), header],
        excInfo,
      ),
    );
}
