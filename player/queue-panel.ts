/**
 * The queue panel: the whole user queue, with remove and move up / down, then what plays
 * after it. The state the server pushes carries only a preview of the next two tracks, so
 * the panel reads the Web API's queue (`GET /v1/me/player/queue`) whenever the state's
 * version moves past the view it shows.
 *
 * Edits go through the Web API's queue calls (the device protocol only adds) and are sound
 * against a view gone stale: one edit at a time, each waits until the panel shows the state
 * it made before the next is taken, and each names the track it saw at its index (`expect`),
 * so a change made meanwhile elsewhere (another tab, a track starting) is refused with 409
 * and the panel rereads instead of removing or moving another entry.
 */
import type { SessionState } from '../protocol/messages.ts';
import * as api from './api.ts';
import { fill, h } from './dom.ts';

export interface QueuePanelDeps {
  /** The token the session runs on now (the SDK renews it). */
  bearer(): string;
  deviceId: string;
  notice(message: string, kind?: 'error' | 'info'): void;
}

type Action = 'up' | 'down' | 'remove';

export class QueuePanel {
  /** The view shown, and the state version it is of. */
  view: api.QueueView | undefined;
  /** The newest state version known (pushed, or answered to an edit). */
  private wanted = -1;
  private epoch: string | undefined;
  private reading: Promise<void> | undefined;
  /** An edit in flight: further clicks are ignored until its state is shown. */
  busy = false;
  /** Where keyboard focus goes once the edit's state is drawn. */
  private focusAfter: { index: number; action: Action } | undefined;
  private sources = new Map<string, string>();

  constructor(
    private readonly list: HTMLElement,
    private readonly deps: QueuePanelDeps,
  ) {}

  /** A state was pushed: reread the queue when it is newer than the view. */
  update(state: SessionState): void {
    if (state.epoch !== this.epoch) {
      // A new session epoch starts its versions anew.
      this.epoch = state.epoch;
      this.view = undefined;
      this.wanted = -1;
    }
    this.sources = new Map(state.next_tracks.map((n) => [n.track.id, n.source]));
    this.wanted = Math.max(this.wanted, state.version);
    if (!this.view) this.draw();
    void this.read();
  }

  /** Reads until the view is of the newest version known; one reader at a time. */
  private read(): Promise<void> {
    this.reading ??= this.readLoop().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async readLoop(): Promise<void> {
    while ((this.view?.version ?? -1) < this.wanted) {
      const asked = this.wanted;
      let view: api.QueueView;
      try {
        view = await api.queue(this.deps.bearer());
      } catch (err) {
        // A 429 or a blip: the next state pushed reads again.
        this.deps.notice(`could not read the queue: ${(err as Error).message}`, 'info');
        return;
      }
      this.view = view;
      this.draw();
      // Behind the version asked for (not expected: the answer is read after it): wait for
      // the next push rather than spin.
      if (view.version < asked) return;
    }
  }

  private async edit(index: number, action: Action): Promise<void> {
    const view = this.view;
    const entry = view?.queue[index];
    if (this.busy || !view || !entry || index >= view.userQueueLength) return;
    this.busy = true;
    this.list.setAttribute('aria-busy', 'true');
    const token = this.deps.bearer();
    const id = this.deps.deviceId;
    try {
      const version =
        action === 'remove'
          ? await api.removeQueued(token, id, index, entry.uri)
          : await api.moveQueued(token, id, index, action === 'up' ? index - 1 : index + 1, entry.uri);
      this.focusAfter = {
        index: action === 'up' ? index - 1 : action === 'down' ? index + 1 : index,
        action,
      };
      this.wanted = Math.max(this.wanted, version);
    } catch (err) {
      const stale = err instanceof api.ApiError && err.status === 409;
      this.deps.notice(
        stale ? 'the queue changed meanwhile: this is it now' : (err as Error).message,
        stale ? 'info' : 'error',
      );
      this.focusAfter = { index, action };
      // Reread at once: the view is stale, whatever the pushes say.
      this.wanted = Math.max(this.wanted, (this.view?.version ?? -1) + 1);
    }
    await this.read();
    this.busy = false;
    this.list.removeAttribute('aria-busy');
    this.draw();
  }

  private draw(): void {
    // A redraw replaces the buttons: one focused now keeps the focus at its place.
    const focused = document.activeElement;
    if (
      !this.focusAfter &&
      focused instanceof HTMLElement &&
      this.list.contains(focused) &&
      focused.dataset.action
    )
      this.focusAfter = { index: Number(focused.dataset.index), action: focused.dataset.action as Action };
    const v = this.view;
    const q = v?.queue ?? [];
    const n = v?.userQueueLength ?? 0;
    const button = (i: number, action: Action, label: string, text: string, enabled: boolean) =>
      h(
        'button',
        {
          class: `queue-${action}`,
          'data-index': i,
          'data-action': action,
          'aria-label': label,
          disabled: !enabled,
          onclick: () => void this.edit(i, action),
        },
        text,
      );
    fill(
      this.list,
      ...q.map((t, i) => {
        const title = t.name;
        const artist = t.artists.map((a) => a.name).join(', ');
        const queued = i < n;
        return h(
          'li',
          { class: queued ? 'queued' : 'upcoming', 'data-track': t.id },
          h('span', { class: 'title' }, title),
          ` ${artist} `,
          h('small', {}, queued ? 'queue' : (this.sources.get(t.id) ?? 'next')),
          queued
            ? h(
                'span',
                { class: 'queue-edit', role: 'group', 'aria-label': `Edit ${title}, queue entry ${i + 1}` },
                button(i, 'up', `Move ${title} up (queue entry ${i + 1})`, '↑', i > 0),
                button(i, 'down', `Move ${title} down (queue entry ${i + 1})`, '↓', i < n - 1),
                button(i, 'remove', `Remove ${title} from the queue (entry ${i + 1})`, '✕', true),
              )
            : undefined,
        );
      }),
    );
    if (q.length === 0) this.list.append(h('li', { class: 'empty' }, 'nothing next'));
    if (!this.busy) this.restoreFocus(n);
  }

  /** After an edit, keyboard focus stays with the entry moved (or the one that took its place). */
  private restoreFocus(n: number): void {
    const f = this.focusAfter;
    if (!f) return;
    this.focusAfter = undefined;
    const index = Math.min(f.index, n - 1);
    const candidates = [f.action, 'up', 'down', 'remove'].map((a) =>
      this.list.querySelector<HTMLButtonElement>(`button[data-index="${index}"][data-action="${a}"]`),
    );
    const target = candidates.find((b) => b && !b.disabled);
    if (target) target.focus();
    else {
      this.list.tabIndex = -1;
      this.list.focus();
    }
  }
}
