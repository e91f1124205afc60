// The public client API (`sluice/client`): FastCGI and SCGI requests to any application server.
export { CgiHeadParser, DEFAULT_MAX_HEAD_BYTES, parseCgiHead, type CgiResponseHead } from './cgi-head';
export { ClientError, type ClientErrorCode, type ClientErrorKind } from './errors';
export {
  headerVariableName,
  parseTarget,
  requestEnviron,
  type ParsedTarget,
  type RequestDescription,
} from './environ';
export type { CgiOutput } from './exchange';
export {
  fastcgiExchange,
  fastcgiGetValues,
  fastcgiRequest,
  MANAGEMENT_VARIABLES,
  requestHeadRecords,
  type RequestHeadOptions,
} from './fastcgi-client';
export { readCgiResponse } from './response';
export { DEFAULT_MAX_SPOOL_BYTES, scgiExchange, scgiRequest } from './scgi-client';
export type {
  CgiRequest,
  ClientOptions,
  ClientProtocol,
  ClientResponse,
  FastCgiOptions,
  ScgiOptions,
} from './types';
export { cgiExchange, cgiRequest } from './request';
