import { describe, expect, it } from 'vitest';
import { MsgHdrsImpl } from '@nats-io/nats-core/internal';
import { HpubFrames } from './event-log-publisher.ts';

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
