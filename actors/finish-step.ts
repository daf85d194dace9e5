/**
 * The end of every step: plans prefetch if what plays next may have changed, bumps the
 * state version, and orders the collected effects into emissions (see session-effects.ts).
 * Kept apart from `Effects` so the handlers that collect effects never import prefetch.
 */
import { sendPrefetch } from './prefetch.ts';
import { stateView, type SessionContext } from './session-context.ts';
import type { Effects, Emission, LogicEnv } from './session-effects.ts';
import type { DeviceOutput, StateOutput } from './types.ts';

/** Turn collected effects into emissions, after planning prefetch and bumping the version. */
export function finishStep(d: SessionContext, now: number, env: LogicEnv, fx: Effects): Emission[] {
  if (fx.replan) sendPrefetch(d, now, env, fx);
  if (fx.changed) d.version += 1;
  const out: Emission[] = [];
  for (const e of fx.events) out.push({ kind: 'event', event: e });
  const state = fx.welcomes.length > 0 || fx.changed ? stateView(d, now) : null;
  // A welcome first: it answers the hello, and a device back without its player gets its
  // playback in the same step.
  if (state) {
    for (const w of fx.welcomes) {
      const output: DeviceOutput = { type: 'welcome', resumed: w.resumed, state };
      if (w.requestId !== undefined) output.requestId = w.requestId;
      out.push({ kind: 'send', deviceId: w.deviceId, output });
    }
  }
  for (const m of fx.media) out.push({ kind: 'send', deviceId: m.deviceId, output: m.output });
  for (const a of fx.answers) out.push({ kind: 'send', deviceId: a.deviceId, output: a.output });
  if (state && fx.changed) {
    // A device welcomed in this step already holds this version: it is not sent again.
    const output: StateOutput = { type: 'state', state };
    if (fx.welcomes.length > 0) output.welcomed = fx.welcomes.map((w) => w.deviceId);
    out.push({ kind: 'broadcast', output });
  }
  return out;
}
