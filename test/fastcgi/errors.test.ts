// FastCgiProtocolError: place in the error tree, fatal versus per-request, and the documented code list.

import { ProtocolError, SluiceError } from '../../src/errors';
import { FASTCGI_ERROR_CODES, FastCgiProtocolError } from '../../src/fastcgi/errors';

describe('FastCgiProtocolError', () => {
  test('is a ProtocolError with a stable code and its class name', () => {
    const err = new FastCgiProtocolError('ERR_FCGI_BAD_VERSION', 'version 2');
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('FastCgiProtocolError');
    expect(err.code).toBe('ERR_FCGI_BAD_VERSION');
  });

  test('without a request id it is fatal to the connection and answers no status', () => {
    const err = new FastCgiProtocolError('ERR_FCGI_TRUNCATED', 'eof');
    expect(err.fatal).toBe(true);
    expect(err.requestId).toBeUndefined();
    expect(err.status).toBeUndefined();
    expect(err.cause).toBeUndefined();
  });

  test('with a request id it ends only that request, with a status and a cause', () => {
    const cause = new FastCgiProtocolError('ERR_FCGI_BAD_PAIR', 'inner');
    const err = new FastCgiProtocolError('ERR_FCGI_BAD_PAIR', 'outer', {
      requestId: 65535,
      status: 400,
      cause,
    });
    expect(err.fatal).toBe(false);
    expect(err.requestId).toBe(65535);
    expect(err.status).toBe(400);
    expect(err.cause).toBe(cause);
  });

  test('every code is documented and follows the ERR_FCGI_ naming', () => {
    const codes = Object.keys(FASTCGI_ERROR_CODES);
    expect(codes.length).toBeGreaterThanOrEqual(12);
    for (const code of codes) expect(code).toMatch(/^ERR_FCGI_[A-Z_]+$/);
    expect(Object.isFrozen(FASTCGI_ERROR_CODES)).toBe(true);
  });
});
