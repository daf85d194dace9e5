/**
 * What the listener hears, measured on the audio element's output: the element plays through
 * WebAudio (source -> probe worklet -> gain -> speakers), and the worklet reports every onset
 * (sound after a run of silence, with the length of that silence) and the output level.
 *
 * The player uses it for its level meter and for the loudness gain and volume; the browser
 * tests and the benchmark read its onsets (tap-to-first-audio, skip-to-audio, the gap between
 * gapless tracks) from `window.__player.probe`: measured on samples, not on media events.
 */

/** Below this absolute sample value is silence (about -66 dBFS). */
const SILENCE = 0.0005;
/**
 * Silence shorter than this many samples is not reported: a tone crosses zero every period
 * and may land one sample under the threshold there.
 */
const MIN_SILENT_SAMPLES = 8;

/** A block peak this many times above or below the last steady level is a level step. */
const LEVEL_STEP = 1.6;

const WORKLET = `
class OutputProbe extends AudioWorkletProcessor {
  constructor() { super(); this.silent = 1e9; this.peak = 0; this.blocks = 0; this.steady = 0; }
  process(inputs, outputs) {
    const input = inputs[0], output = outputs[0];
    const n = input.length > 0 ? input[0].length : 128;
    for (let c = 0; c < output.length; c++) {
      if (input[c]) output[c].set(input[c]); else output[c].fill(0);
    }
    let blockPeak = 0;
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let c = 0; c < input.length; c++) { const v = Math.abs(input[c][i]); if (v > m) m = v; }
      if (m > this.peak) this.peak = m;
      if (m > blockPeak) blockPeak = m;
      if (m < ${SILENCE}) { this.silent++; continue; }
      if (this.silent >= ${MIN_SILENT_SAMPLES}) {
        this.port.postMessage({ t: 'onset', at: currentTime + i / sampleRate, silentSamples: this.silent, rate: sampleRate });
      }
      this.silent = 0;
    }
    // A level step (a track of another loudness, another part of one) is reported at once.
    if (blockPeak > ${SILENCE} && (blockPeak > this.steady * ${LEVEL_STEP} || blockPeak * ${LEVEL_STEP} < this.steady)) {
      this.port.postMessage({ t: 'step', at: currentTime, peak: blockPeak });
      this.steady = blockPeak;
    }
    if (++this.blocks % 16 === 0) { this.port.postMessage({ t: 'level', peak: this.peak }); this.peak = 0; }
    return true;
  }
}
registerProcessor('output-probe', OutputProbe);
`;

export interface Onset {
  /** performance.now() when the page heard of it (worklet block + message: a few ms late). */
  perfMs: number;
  /** Context time of the first loud sample. */
  contextTime: number;
  /** The silence before it, in ms (Infinity: the first sound since the page started). */
  silenceMs: number;
}

/** A change of level (block peak) by more than LEVEL_STEP times. */
export interface LevelStep {
  perfMs: number;
  contextTime: number;
  peak: number;
}

export class OutputProbe {
  readonly onsets: Onset[] = [];
  readonly steps: LevelStep[] = [];
  /** Peak level (0..1) of the last ~50 ms. */
  level = 0;
  private readonly gain: GainNode;
  private trackGain = 1;
  private volume = 1;
  private listeners: ((o: Onset) => void)[] = [];

  private constructor(
    readonly context: AudioContext,
    node: AudioWorkletNode,
    source: MediaElementAudioSourceNode,
  ) {
    this.gain = context.createGain();
    // The probe hears the element's own output, before loudness and volume.
    source.connect(node).connect(this.gain).connect(context.destination);
    node.port.onmessage = (
      ev: MessageEvent<{ t: string; at: number; silentSamples: number; rate: number; peak: number }>,
    ) => {
      const m = ev.data;
      if (m.t === 'level') {
        this.level = m.peak;
        return;
      }
      if (m.t === 'step') {
        this.steps.push({ perfMs: performance.now(), contextTime: m.at, peak: m.peak });
        if (this.steps.length > 1000) this.steps.splice(0, 500);
        return;
      }
      const onset: Onset = {
        perfMs: performance.now(),
        contextTime: m.at,
        silenceMs: m.silentSamples >= 1e9 ? Infinity : (m.silentSamples * 1000) / m.rate,
      };
      this.onsets.push(onset);
      if (this.onsets.length > 1000) this.onsets.splice(0, 500);
      for (const l of this.listeners) l(onset);
    };
  }

  /** Routes the element through the probe; needs a secure context (AudioWorklet). */
  static async attach(audio: HTMLMediaElement): Promise<OutputProbe> {
    const context = new AudioContext({ latencyHint: 'interactive' });
    const url = URL.createObjectURL(new Blob([WORKLET], { type: 'text/javascript' }));
    try {
      await context.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const node = new AudioWorkletNode(context, 'output-probe', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [2],
    });
    return new OutputProbe(context, node, context.createMediaElementSource(audio));
  }

  /** Resolves at the next onset (sound after silence). */
  nextOnset(): Promise<Onset> {
    return new Promise((resolve) => {
      const l = (o: Onset) => {
        this.listeners = this.listeners.filter((x) => x !== l);
        resolve(o);
      };
      this.listeners.push(l);
    });
  }

  /** The track's loudness normalisation, in dB, capped so its peak stays below full scale. */
  setTrackGain(gainDb: number, peak: number): void {
    const linear = 10 ** (gainDb / 20);
    this.trackGain = peak > 0 ? Math.min(linear, 1 / peak) : linear;
    this.apply();
  }

  setVolume(percent: number): void {
    this.volume = Math.max(0, Math.min(100, percent)) / 100;
    this.apply();
  }

  private apply(): void {
    this.gain.gain.setTargetAtTime(this.trackGain * this.volume, this.context.currentTime, 0.01);
  }
}
