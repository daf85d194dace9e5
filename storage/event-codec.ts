/**
 * Listening events on the wire of the log: JSON bytes (the warehouse export writes the same
 * JSON as NDJSON, and any language can read the stream), subjects by event type, and the
 * validation every adapter applies before anything is stored.
 */
import type { ListeningEvent, ListeningEventType } from '../actors/types.ts';
import { StorageError } from './errors.ts';

const TYPES: readonly ListeningEventType[] = ['play.start', 'play.progress', 'play.end'];
const REASONS = ['trackdone', 'skip', 'transfer', 'logout', 'blocked'];
const STRING_FIELDS = [
  'event_id',
  'play_id',
  'user',
  'track',
  'artist',
  'context',
  'country',
  'device',
] as const;

/** `listen.play.start` for prefix `listen`: one subject per event type. */
export function subjectFor(prefix: string, type: ListeningEventType): string {
  return `${prefix}.${type}`;
}

/** Module-level, not a closure made per call: validation runs for every event published. */
function bad(why: string): never {
  throw new StorageError('bad_request', `listening event: ${why}`);
}

/**
 * Rejects anything that is not a well-formed event with `StorageError('bad_request')`, naming
 * the field, so a bad producer gets a clear error and the log never holds a poison message.
 */
export function validateEvent(e: unknown): ListeningEvent {
  if (typeof e !== 'object' || e === null) return bad('not an object');
  const o = e as Record<string, unknown>;
  for (const f of STRING_FIELDS) {
    if (typeof o[f] !== 'string') bad(`${f} must be a string`);
  }
  if ((o.event_id as string).length === 0 || (o.event_id as string).length > 200)
    bad('event_id must be 1-200 chars');
  if ((o.play_id as string).length === 0) bad('play_id is empty');
  if (!TYPES.includes(o.type as ListeningEventType)) bad(`type must be one of ${TYPES.join(', ')}`);
  if (!Number.isSafeInteger(o.ts) || (o.ts as number) < 0) bad('ts must be epoch ms');
  if (!Number.isSafeInteger(o.ms_played) || (o.ms_played as number) < 0)
    bad('ms_played must be a non-negative integer');
  if (o.product !== 'free' && o.product !== 'premium') bad('product must be free or premium');
  if (
    o.devices !== undefined &&
    (!Array.isArray(o.devices) || !o.devices.every((d: unknown) => typeof d === 'string'))
  )
    bad('devices must be an array of strings');
  if (o.reason !== undefined && !REASONS.includes(o.reason as string))
    bad(`reason must be one of ${REASONS.join(', ')}`);
  return o as unknown as ListeningEvent;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEvent(e: ListeningEvent): Uint8Array {
  return encoder.encode(encodeEventText(e));
}

/**
 * The same JSON as text, for a publisher that encodes a whole batch of messages to bytes at
 * once (event-log-publisher.ts): one buffer per batch instead of one per event.
 */
export function encodeEventText(e: ListeningEvent): string {
  return JSON.stringify(e);
}

/** Decodes and validates; a message that fails is reported by the caller, never crashes it. */
export function decodeEvent(bytes: Uint8Array): ListeningEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new StorageError('bad_request', 'listening event: not JSON', { cause });
  }
  return validateEvent(parsed);
}

/** The last month monthOf formatted, as [start, end) epoch ms: consecutive events share it. */
let lastMonth = { start: 0, end: 0, month: '' };

/** UTC month `YYYY-MM` of an epoch-ms instant: the royalty reporting period. */
export function monthOf(ts: number): string {
  if (ts >= lastMonth.start && ts < lastMonth.end) return lastMonth.month;
  const d = new Date(ts);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const month = d.toISOString().slice(0, 7);
  // Only 4-digit years print as YYYY (toISOString writes others with a sign): never cached.
  if (month.length === 7 && month[4] === '-')
    lastMonth = { start, end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1), month };
  return month;
}

/** UTC day `YYYY-MM-DD`: the warehouse partition. */
export function dayOf(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}
