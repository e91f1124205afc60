// The error tree: every error sluice raises carries a stable code that tests and logs key on.

/** Base of every error sluice raises on purpose. `code` is stable; the message is for people. */
export class SluiceError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A front end sent bytes the protocol does not allow. `status` is the HTTP status to answer with
 * when the protocol still allows a response (400, 411, 413); undefined when only closing is left.
 */
export class ProtocolError extends SluiceError {
  readonly status: number | undefined;

  constructor(code: string, message: string, status?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** The app broke the gateway contract (bad status line, header injection, write before start). */
export class GatewayError extends SluiceError {}

/** A command line or configuration that cannot work; the CLI exits with code 2. */
export class UsageError extends SluiceError {}
