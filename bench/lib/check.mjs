// The check before any load: one request per target and route through nginx, which must answer
// exactly what the route promises (bench/lib/routes.mjs), or the benchmark stops with the logs.
import http from 'node:http';
import { HELLO, ITEM_HEADERS, ITEM_RESPONSE } from './routes.mjs';

/** One request, bounded in time: { status, headers, body } (rejects on error or timeout). */
export function httpRequest(
  port,
  { method = 'GET', path = '/', body, contentType = 'application/octet-stream', timeoutMs = 10_000 },
) {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'Content-Type': contentType, 'Content-Length': body.length } : {};
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** What is wrong with a route's answer, or undefined when it is right. */
function problem(route, { status, headers, body }, requestBody) {
  if (status !== 200)
    return `status ${status}, want 200 (${JSON.stringify(body.subarray(0, 200).toString())})`;
  switch (route.expect) {
    case 'hello':
      return body.toString('latin1') === HELLO
        ? undefined
        : `body ${JSON.stringify(body.toString().slice(0, 200))}`;
    case 'size': {
      const want = route.responseBytes ?? 1024 * 1024;
      return body.length === want ? undefined : `${body.length} bytes, want ${want}`;
    }
    case 'echo':
      return body.equals(requestBody)
        ? undefined
        : `echo of ${requestBody.length} bytes came back as ${body.length} different bytes`;
    case 'count':
      return body.toString().trim() === String(requestBody.length)
        ? undefined
        : `answered ${JSON.stringify(body.toString().slice(0, 100))}, want ${requestBody.length}`;
    case 'item': {
      if (body.toString('latin1') !== ITEM_RESPONSE)
        return `body ${JSON.stringify(body.toString().slice(0, 200))}, want ${ITEM_RESPONSE}`;
      if (!/^application\/json\b/.test(headers['content-type'] ?? ''))
        return `content-type ${headers['content-type']}, want application/json`;
      const absent = ITEM_HEADERS.filter((name) => !headers[name]);
      return absent.length === 0 ? undefined : `no ${absent.join(' or ')} header: a middleware did not run`;
    }
  }
  return `unknown expectation ${route.expect}`;
}

/** Checks one route of one target; returns the response head the route got (for the JSON). */
export async function checkRoute(port, route, requestBody, describeFailure) {
  let response;
  try {
    response = await httpRequest(port, {
      method: route.method,
      path: route.path,
      body: route.requestBytes > 0 ? requestBody : undefined,
      contentType: route.contentType,
    });
  } catch (err) {
    throw new Error(`${route.method} ${route.path}: ${err.message}\n${describeFailure()}`, { cause: err });
  }
  const wrong = problem(route, response, requestBody);
  if (wrong) throw new Error(`${route.method} ${route.path}: ${wrong}\n${describeFailure()}`);
  const h = response.headers;
  return {
    'content-type': h['content-type'],
    'content-length': h['content-length'],
    'transfer-encoding': h['transfer-encoding'],
  };
}
