/**
 * `npm run bench -- schema-candidates`: how fast each candidate validation library checks
 * our frames (a typical progress, play and state frame, already decoded), to pick the one
 * protocol/ uses. Candidates: TypeBox's compiled checker (typebox/compile), Ajv compiling the
 * very same JSON Schema objects, Valibot and Zod (v4) with equivalent schemas written here.
 * Every candidate must also refuse the same invalid frames, checked before timing.
 * Writes bench-results/schema-candidates.json (ops/s per library and frame, and each
 * library's geometric mean relative to the fastest).
 */
import { Ajv } from 'ajv';
import { Compile } from 'typebox/compile';
import * as v from 'valibot';
import { z } from 'zod';
import { exampleClientFrames, exampleServerFrames } from '../protocol/examples.ts';
import { DEVICE_TYPES, QUALITIES, QUEUE_SOURCES, REPEAT_MODES } from '../protocol/messages.ts';
import { PlaySchema, ProgressSchema, StateSchema } from '../protocol/schemas.ts';
import { CONTEXT_URI_PATTERN, TRACK_URI_PATTERN } from '../protocol/uris.ts';
import { MAX_PLAY_URIS, MAX_STRING_LENGTH } from '../protocol/version.ts';
import { geometricMean, measureOps } from './codec.bench.ts';
import { printTable, writeResults } from './report.ts';

type Check = (value: unknown) => boolean;
type FrameName = 'progress' | 'play' | 'state';

const samples: Record<FrameName, unknown> = {
  progress: exampleClientFrames.progress,
  play: exampleClientFrames.play,
  state: exampleServerFrames.state,
};
const invalid: Record<FrameName, unknown> = {
  progress: { ...exampleClientFrames.progress, position_ms: '61250' },
  play: { ...exampleClientFrames.play, offset: { index: -1 } },
  state: { t: 'state', state: { ...exampleServerFrames.state.state, repeat: 'sometimes' } },
};

function typeboxChecks(): Record<FrameName, Check> {
  const progress = Compile(ProgressSchema);
  const play = Compile(PlaySchema);
  const state = Compile(StateSchema);
  return { progress: (x) => progress.Check(x), play: (x) => play.Check(x), state: (x) => state.Check(x) };
}

function ajvChecks(): Record<FrameName, Check> {
  const ajv = new Ajv({ allErrors: false, strict: false });
  return {
    progress: ajv.compile(ProgressSchema) as Check,
    play: ajv.compile(PlaySchema) as Check,
    state: ajv.compile(StateSchema) as Check,
  };
}

function valibotChecks(): Record<FrameName, Check> {
  const id = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffff_ffff));
  const ms = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
  const name = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_STRING_LENGTH));
  const trackUri = v.pipe(v.string(), v.maxLength(MAX_STRING_LENGTH), v.regex(TRACK_URI_PATTERN));
  const progress = v.object({
    t: v.literal('progress'),
    id,
    play_id: name,
    position_ms: ms,
    buffered_ms: ms,
    bandwidth_kbps: v.pipe(v.number(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  });
  const play = v.object({
    t: v.literal('play'),
    id,
    context: v.optional(v.pipe(v.string(), v.maxLength(MAX_STRING_LENGTH), v.regex(CONTEXT_URI_PATTERN))),
    uris: v.optional(v.pipe(v.array(trackUri), v.minLength(1), v.maxLength(MAX_PLAY_URIS))),
    offset: v.optional(
      v.union([
        v.object({ index: v.pipe(v.number(), v.integer(), v.minValue(0)) }),
        v.object({ uri: trackUri }),
      ]),
    ),
    position_ms: v.optional(ms),
  });
  const int = v.pipe(v.number(), v.integer());
  const track = v.object({
    id: v.string(),
    title: v.string(),
    artist: v.string(),
    album: v.string(),
    duration_ms: int,
  });
  const state = v.object({
    t: v.literal('state'),
    state: v.object({
      version: int,
      epoch: v.string(),
      devices: v.array(
        v.object({
          id: v.string(),
          name: v.string(),
          type: v.picklist(DEVICE_TYPES),
          volume_percent: int,
          connected: v.boolean(),
        }),
      ),
      active_device_id: v.nullable(v.string()),
      is_playing: v.boolean(),
      track: v.nullable(track),
      play_id: v.nullable(v.string()),
      position: v.object({ position_ms: int, at: int }),
      shuffle: v.boolean(),
      repeat: v.picklist(REPEAT_MODES),
      quality: v.picklist(QUALITIES),
      context_uri: v.nullable(v.string()),
      next_tracks: v.array(v.object({ track, source: v.picklist(QUEUE_SOURCES) })),
    }),
  });
  return { progress: (x) => v.is(progress, x), play: (x) => v.is(play, x), state: (x) => v.is(state, x) };
}

function zodChecks(): Record<FrameName, Check> {
  const id = z.number().int().min(0).max(0xffff_ffff);
  const ms = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
  const name = z.string().min(1).max(MAX_STRING_LENGTH);
  const trackUri = z.string().max(MAX_STRING_LENGTH).regex(TRACK_URI_PATTERN);
  const progress = z.object({
    t: z.literal('progress'),
    id,
    play_id: name,
    position_ms: ms,
    buffered_ms: ms,
    bandwidth_kbps: z.number().min(0).max(Number.MAX_SAFE_INTEGER),
  });
  const play = z.object({
    t: z.literal('play'),
    id,
    context: z.string().max(MAX_STRING_LENGTH).regex(CONTEXT_URI_PATTERN).optional(),
    uris: z.array(trackUri).min(1).max(MAX_PLAY_URIS).optional(),
    offset: z.union([z.object({ index: z.number().int().min(0) }), z.object({ uri: trackUri })]).optional(),
    position_ms: ms.optional(),
  });
  const int = z.number().int();
  const track = z.object({
    id: z.string(),
    title: z.string(),
    artist: z.string(),
    album: z.string(),
    duration_ms: int,
  });
  const state = z.object({
    t: z.literal('state'),
    state: z.object({
      version: int,
      epoch: z.string(),
      devices: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          type: z.enum(DEVICE_TYPES),
          volume_percent: int,
          connected: z.boolean(),
        }),
      ),
      active_device_id: z.string().nullable(),
      is_playing: z.boolean(),
      track: track.nullable(),
      play_id: z.string().nullable(),
      position: z.object({ position_ms: int, at: int }),
      shuffle: z.boolean(),
      repeat: z.enum(REPEAT_MODES),
      quality: z.enum(QUALITIES),
      context_uri: z.string().nullable(),
      next_tracks: z.array(z.object({ track, source: z.enum(QUEUE_SOURCES) })),
    }),
  });
  return {
    progress: (x) => progress.safeParse(x).success,
    play: (x) => play.safeParse(x).success,
    state: (x) => state.safeParse(x).success,
  };
}

export default async function schemaCandidates(): Promise<void> {
  const candidates: Record<string, Record<FrameName, Check>> = {
    'typebox (compiled)': typeboxChecks(),
    ajv: ajvChecks(),
    valibot: valibotChecks(),
    zod: zodChecks(),
  };
  const frames: FrameName[] = ['progress', 'play', 'state'];
  // Same verdicts first: a fast checker that lets bad frames through is no candidate.
  for (const [lib, checks] of Object.entries(candidates)) {
    for (const f of frames) {
      if (!checks[f](samples[f])) throw new Error(`${lib} refuses the valid ${f} frame`);
      if (checks[f](invalid[f])) throw new Error(`${lib} accepts the invalid ${f} frame`);
    }
  }
  const figures: Record<string, Record<string, number>> = {};
  for (const [lib, checks] of Object.entries(candidates)) {
    figures[lib] = {};
    for (const f of frames) {
      const check = checks[f];
      const value = samples[f];
      figures[lib]![f] = measureOps(() => check(value), {
        warmupMs: 200,
        roundMs: 250,
        rounds: 3,
      }).ops_per_sec;
    }
  }
  const best: Record<FrameName, number> = { progress: 0, play: 0, state: 0 };
  for (const f of frames) best[f] = Math.max(...Object.values(figures).map((r) => r[f]!));
  const rows = Object.entries(figures).map(([lib, r]) => ({
    library: lib,
    ...Object.fromEntries(frames.map((f) => [`${f} ops/s`, Math.round(r[f]!)])),
    'vs fastest (geo mean)': geometricMean(frames.map((f) => r[f]! / best[f])),
  }));
  printTable(rows);
  const winner = rows.reduce((a, b) => (b['vs fastest (geo mean)'] > a['vs fastest (geo mean)'] ? b : a));
  console.log(`fastest: ${winner.library}`);
  writeResults('schema-candidates', { winner: winner.library, ops_per_sec: figures, rows });
}
