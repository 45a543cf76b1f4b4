// Asserts that a call throws a KquantError with the given code and a message matching the pattern.
import { expect } from 'vitest';
import { KquantError } from '../../lib/index.js';

export function expectKquantError(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a throw').toBeInstanceOf(KquantError);
  const err = caught as KquantError;
  expect(err.name).toBe('KquantError');
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
}
