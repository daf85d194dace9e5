import { describe, expect, it } from 'vitest';
import { MsgHdrsImpl } from '@nats-io/nats-core/internal';
import { AwaitedAcks, HpubFrames, readPubAck } from './event-log-publisher.ts';

/** The bytes nats.js writes for `nc.publish(subject, data, { reply, headers })`. */
function natsJsFrame(subject: string, reply: string, name: string, value: string, data: Uint8Array) {
  const h = new MsgHdrsImpl();
  h.set(name, value);
  const hdr = h.encode();
  const line = new TextEncoder().encode(
    `HPUB ${subject} ${reply} ${hdr.length} ${hdr.length + data.length}\r\n`,
  );
  return Buffer.concat([line, hdr, data, Buffer.from('\r\n')]);
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('hpub frames', () => {
  it('hpub frames - text and byte bodies are framed exactly as nats.js frames them, UTF-8 lengths included', () => {
    const frames = new HpubFrames();
    const text = '{"track":"Sigur Rós – Hoppípolla"}';
    const bin = new Uint8Array([0x82, 0xa1, 0x61, 0x00, 0x0d, 0x0a, 0xff]);
    frames.add('listen.play.end', '_INBOX.x.1', 'Nats-Msg-Id', 'é-1:end', text, 1 << 20);
    frames.add('journal.s1', '_INBOX.x.2', 'Nats-Expected-Last-Subject-Sequence', '0', bin, 1 << 20);
    frames.add('listen.play.end', '_INBOX.x.3', 'Nats-Msg-Id', ' padded ', '', 1 << 20);
    const expected = Buffer.concat([
      natsJsFrame('listen.play.end', '_INBOX.x.1', 'Nats-Msg-Id', 'é-1:end', utf8(text)),
      natsJsFrame('journal.s1', '_INBOX.x.2', 'Nats-Expected-Last-Subject-Sequence', '0', bin),
      natsJsFrame('listen.play.end', '_INBOX.x.3', 'Nats-Msg-Id', ' padded ', new Uint8Array()),
    ]);
    expect(Buffer.concat(frames.end())).toEqual(expected);
    expect(frames.messages).toBe(3);
  });

  it('hpub frames - a header value with a line break or a message over max_payload is refused and adds nothing', () => {
    const frames = new HpubFrames();
    expect(() => frames.add('s', 'r', 'Nats-Msg-Id', 'a\r\nX: y', '{}', 1024)).toThrow(/\\r or \\n/);
    expect(() => frames.add('s', 'r', 'Nats-Msg-Id', 'b', 'x'.repeat(1024), 1024)).toThrow(/max_payload/);
    expect(frames.messages).toBe(0);
    expect(frames.end()).toEqual([]);
  });
});

describe('pub ack reading', () => {
  it('pub ack reading - the shapes nats-server writes read as JSON.parse reads them; any other shape is left to JSON.parse', () => {
    for (const text of [
      '{"stream":"EVENTS","seq":1}',
      '{"stream":"EVENTS","seq":9007199254740}',
      '{"stream":"EV","seq":42,"duplicate":true}',
      '{"stream":"a\\",\\"seq\\":7","seq":8}',
    ]) {
      const parsed = JSON.parse(text) as { seq: number; duplicate?: boolean };
      expect(readPubAck(utf8(text)), text).toEqual({ seq: parsed.seq, duplicate: parsed.duplicate === true });
    }
    for (const text of [
      '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}',
      '{"stream":"EV","seq":5,"domain":"hub"}',
      '{"stream":"EV","seq":}',
      '{"stream":"EV","seq":1',
      '{"stream":"EV"}',
      '{"seq":1}',
      '',
    ])
      expect(readPubAck(utf8(text)), text).toBeUndefined();
  });
});

describe('awaited acks', () => {
  const entry = (deadline: number) => ({
    subject: 's',
    data: '',
    header: 'h',
    value: 'v',
    settle: { resolve: () => undefined, reject: () => undefined },
    deadline,
  });

  it('awaited acks - each id is taken once, in any order; due ones expire oldest first; the rest can all be taken', () => {
    const acks = new AwaitedAcks();
    const all = Array.from({ length: 10_000 }, (_, i) => entry(i < 5_000 ? 1 : 2));
    all.forEach((p, i) => acks.add(100 + i, p));
    expect(acks.take(99)).toBeUndefined();
    expect(acks.take(100 + 10_000)).toBeUndefined();
    expect(acks.take(Number.NaN)).toBeUndefined();
    expect(acks.take(103)).toBe(all[3]);
    expect(acks.take(103)).toBeUndefined();
    for (let i = 0; i < 4_500; i++) if (i !== 3) expect(acks.take(100 + i)).toBe(all[i]);
    const due = acks.takeDue(1);
    expect(due).toEqual(all.slice(4_500, 5_000));
    expect(acks.take(100 + 4_600)).toBeUndefined();
    expect(acks.take(100 + 9_999)).toBe(all[9_999]);
    expect(acks.takeAll()).toEqual(all.slice(5_000, 9_999));
    expect(acks.takeAll()).toEqual([]);
    acks.add(7, all[0]!); // after everything settled, ids may start anywhere
    expect(acks.take(7)).toBe(all[0]);
  });
});
