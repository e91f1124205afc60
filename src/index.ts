// The public API of sluice: the gateway types, middleware composition, errors and limits.
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
export { compose } from './gateway/compose';
export { GatewayError, ProtocolError, SluiceError, UsageError } from './errors';
export { DEFAULT_LIMITS, type Limits } from './limits';
export { VERSION } from './version';
