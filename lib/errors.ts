// One error class for everything kquant rejects, with a stable `code` to branch on. Native errors carry
// the same codes (native/napi/args.cc) and are rewrapped here, with the caller's stack for async ops.
export type KquantErrorCode =
  | 'KQ_INVALID_ARGUMENT'
  | 'KQ_SHAPE'
  | 'KQ_DTYPE'
  | 'KQ_LENGTH'
  | 'KQ_NON_FINITE'
  | 'KQ_TOO_LARGE'
  | 'KQ_CUDA_UNAVAILABLE'
  | 'KQ_CUDA'
  | 'KQ_OUT_OF_MEMORY'
  | 'KQ_INTERNAL'
  | 'KQ_FORMAT';

export class KquantError extends Error {
  readonly code: KquantErrorCode;

  constructor(code: KquantErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KquantError';
    this.code = code;
  }
}

function isNativeCoded(err: unknown): err is Error & { code: KquantErrorCode } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('KQ_');
}

// Native errors become KquantErrors; anything else (a bug) passes through untouched.
export function fromNative(err: unknown, stackFrom?: Error): unknown {
  if (err instanceof KquantError || !isNativeCoded(err)) return err;
  const wrapped = new KquantError(err.code, err.message, { cause: err });
  if (stackFrom?.stack) wrapped.stack = `KquantError: ${err.message}\n${stackFrom.stack.split('\n').slice(1).join('\n')}`;
  return wrapped;
}

export function callSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

// The stack is captured before the await so a rejection points at the caller, not at the event loop.
export async function callAsync<T>(fn: () => Promise<T>): Promise<T> {
  const callSite = new Error();
  try {
    return await fn();
  } catch (err) {
    throw fromNative(err, callSite);
  }
}
