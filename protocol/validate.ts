/**
 * Compiled validators, one per frame type, keyed by the type tag. TypeBox compiles each
 * schema once at load into a specialised check function (the fastest of the candidates we
 * measured, see loadtest/schema-candidates.bench.ts); the slower error walk runs only for a
 * frame already known to be invalid, to say which field is wrong.
 */
import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import type { PlayFrame } from './messages.ts';
import { CLIENT_SCHEMAS, SERVER_SCHEMAS } from './schemas.ts';

export interface FrameValidator {
  readonly type: string;
  readonly validator: Validator;
  /** Fast structural check. */
  check(value: unknown): boolean;
  /** Rules a schema cannot say simply; returns a problem or null. Runs after `check` passed. */
  semantic?: (value: unknown) => string | null;
}

/** Cross-field rules of client frames. */
const SEMANTIC: Record<string, (value: unknown) => string | null> = {
  play: (value) => {
    const play = value as PlayFrame;
    if ((play.context === undefined) === (play.uris === undefined)) {
      return 'exactly one of `context` or `uris` is required';
    }
    return null;
  },
};

function compileAll(
  schemas: Record<string, TSchema>,
  semantic: Record<string, (value: unknown) => string | null>,
) {
  const map = new Map<string, FrameValidator>();
  for (const [type, schema] of Object.entries(schemas)) {
    const validator = Compile(schema);
    const entry: FrameValidator = { type, validator, check: (value) => validator.Check(value) };
    const rule = semantic[type];
    map.set(type, rule ? { ...entry, semantic: rule } : entry);
  }
  return map as ReadonlyMap<string, FrameValidator>;
}

export const CLIENT_VALIDATORS = compileAll(CLIENT_SCHEMAS, SEMANTIC);
export const SERVER_VALIDATORS = compileAll(SERVER_SCHEMAS, {});

/** Field path of a JSON pointer (`/device/type` -> `device.type`). */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** A one-line human description of the first problem of an invalid frame. */
export function describeInvalid(entry: FrameValidator, value: unknown): string {
  let errors;
  try {
    errors = entry.validator.Errors(value);
  } catch {
    return 'invalid frame';
  }
  const first = errors[0];
  if (!first) return 'invalid frame';
  const at = fieldPath(first.instancePath);
  if (first.keyword === 'required') {
    const missing = (first.params as { requiredProperties?: string[] }).requiredProperties ?? [];
    const names = missing.map((m) => (at ? `${at}.${m}` : m));
    return `missing required field ${names.join(', ') || at}`;
  }
  return `invalid field ${at || '(frame)'}: ${first.message}`;
}
