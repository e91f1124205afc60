// The public API of sluice: serve() in a program, the gateway types, adapters, middleware, errors and limits.
export type {
  App,
  AppResult,
  Body,
  Chunk,
  Environ,
  GatewayProtocol,
  HeaderList,
  Middleware,
  SluiceExtensions,
  StartResponse,
  WriteFn,
} from './gateway/types';
export {
  serve,
  type BoundListener,
  type Server,
  type ServerOptions,
  type ServerSettings,
} from './process/embedded';
export type { Servable } from './adapters/adapt';
export type { DaemonStatus, ListenerStatus, WorkerStatus } from './status/snapshot';
export type { Counters } from './runtime/meter';
export type { Logger } from 'pino';
export { compose } from './gateway/compose';
export { nodeApp, type GatewayIncomingMessage, type NodeListener } from './adapters/node';
export { fetchApp, requestUrl, type FetchContext, type FetchHandler } from './adapters/fetch';
export { detectApp, type AppKind, type InterfaceName } from './adapters/detect';
export { catchErrors, type CatchErrorsOptions } from './middleware/catch-errors';
export {
  accessLog,
  type AccessLogFormat,
  type AccessLogOptions,
  type AccessRecord,
} from './middleware/access-log';
export { compress, type CompressOptions, type Encoding } from './middleware/compress';
export { parseQuery, queryParams, readForm, type ReadFormOptions } from './middleware/params';
export { requestId, type RequestIdOptions } from './middleware/request-id';
export {
  sessions,
  SESSION,
  SESSIONS,
  type SessionControl,
  type SessionData,
  type SessionsOptions,
} from './middleware/sessions';
export type { SessionStore } from './middleware/session-store';
export { GatewayError, ProtocolError, SluiceError, UsageError } from './errors';
export { DEFAULT_LIMITS, type Limits } from './runtime/limits';
export { VERSION } from './common/version';
