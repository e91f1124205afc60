// Either protocol through one call, for callers that take the protocol as a setting.
import type { CgiOutput } from './exchange';
import { fastcgiExchange } from './fastcgi-client';
import { readCgiResponse } from './response';
import { scgiExchange } from './scgi-client';
import type { CgiRequest, ClientProtocol, ClientResponse, FastCgiOptions, ScgiOptions } from './types';

/** {@link fastcgiExchange} or {@link scgiExchange}, by `protocol`. */
export function cgiExchange(
  protocol: ClientProtocol,
  request: CgiRequest,
  options: FastCgiOptions & ScgiOptions,
): CgiOutput {
  return protocol === 'fastcgi' ? fastcgiExchange(request, options) : scgiExchange(request, options);
}

/** Sends one request over `protocol` and resolves once the response head arrived. */
export function cgiRequest(
  protocol: ClientProtocol,
  request: CgiRequest,
  options: FastCgiOptions & ScgiOptions,
): Promise<ClientResponse> {
  return readCgiResponse(cgiExchange(protocol, request, options), options.maxHeadBytes);
}
