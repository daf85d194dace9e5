import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

describe('metrics', () => {
  it('metrics - tallied frames are in the scraped counters, each counted once', async () => {
    const m = createMetrics();
    m.frameIn('volume');
    m.frameIn('volume');
    m.frameIn('play');
    m.frameOut('ack');
    m.framesIn.inc({ type: 'invalid' });
    const first = await m.registry.metrics();
    expect(first).toContain('session_frames_in_total{type="volume"} 2');
    expect(first).toContain('session_frames_in_total{type="play"} 1');
    expect(first).toContain('session_frames_in_total{type="invalid"} 1');
    expect(first).toContain('session_frames_out_total{type="ack"} 1');
    // A second read adds only what came since the first.
    m.frameIn('volume');
    const second = await m.registry.metrics();
    expect(second).toContain('session_frames_in_total{type="volume"} 3');
    expect(second).toContain('session_frames_in_total{type="play"} 1');
    expect((await m.framesOut.get()).values).toEqual([{ value: 1, labels: { type: 'ack' } }]);
  });
});
