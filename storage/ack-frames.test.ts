import { describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { MsgImpl, ProtocolHandler } from '@nats-io/nats-core/internal';
import { ackAll } from './ack-frames.ts';

/** A nats.js protocol handler whose writes are captured instead of sent. */
function capturingProtocol() {
  const p = Object.create(ProtocolHandler.prototype) as ProtocolHandler & { wire: Buffer[] };
  p.outMsgs = 0;
  p.outBytes = 0;
  p.wire = [];
  p.sendCommand = (cmd: string | Uint8Array, ...payloads: Uint8Array[]) => {
    p.wire.push(
      Buffer.from(typeof cmd === 'string' ? new TextEncoder().encode(cmd) : cmd),
      ...payloads.map((b) => Buffer.from(b)),
    );
  };
  return p;
}

/** A delivery shaped as nats.js's `JsMsgImpl` (its `msg` and `didAck`). */
function delivery(protocol: ProtocolHandler, reply: string | undefined): JsMsg & { didAck: boolean } {
  const arg = {
    subject: Buffer.from('_INBOX.pull'),
    reply: reply === undefined ? undefined : Buffer.from(reply),
    sid: 1,
    hdr: -1,
    size: 2,
  };
  return { msg: new MsgImpl(arg, Buffer.from('{}'), protocol), didAck: false } as unknown as JsMsg & {
    didAck: boolean;
  };
}

/** The bytes `JsMsg.ack()` writes: `msg.respond(+ACK)`, i.e. `protocol.publish(reply, +ACK)`. */
function natsJsAcks(replies: string[]): Buffer {
  const p = capturingProtocol();
  for (const r of replies) p.publish(r, Uint8Array.of(43, 65, 67, 75));
  return Buffer.concat(p.wire);
}

const REPLIES = [
  '$JS.ACK.EVENTS.EVENTS_royalties.1.17.17.1733490000000000000.3',
  '$JS.ACK.hub.ACCHASH.EVENTS.EVENTS_royalties.2.18.20.1733490000000000001.2.xyz',
  '$JS.ACK.ÉVÉNEMENTS.c.1.19.21.1733490000000000002.0',
];

describe('ack frames', () => {
  it("ack frames - a batch's acks are one command, byte for byte what nats.js's ack() writes, counters included", () => {
    const p = capturingProtocol();
    ackAll(REPLIES.map((r) => delivery(p, r)));
    expect(p.wire).toHaveLength(1);
    expect(Buffer.concat(p.wire)).toEqual(natsJsAcks(REPLIES));
    expect(p.outMsgs).toBe(3);
    expect(p.outBytes).toBe(12);
  });

  it('ack frames - a message acked already or without a reply sends nothing, and every message ends marked acked', () => {
    const p = capturingProtocol();
    const acked = delivery(p, REPLIES[0]);
    acked.didAck = true;
    const msgs = [acked, delivery(p, undefined), delivery(p, REPLIES[1])];
    ackAll(msgs);
    expect(Buffer.concat(p.wire)).toEqual(natsJsAcks([REPLIES[1]!]));
    expect(msgs.every((m) => m.didAck)).toBe(true);
    ackAll(msgs);
    expect(p.wire).toHaveLength(1);
  });

  it('ack frames - messages of two connections are acked each on its own, in order', () => {
    const a = capturingProtocol();
    const b = capturingProtocol();
    ackAll([delivery(a, REPLIES[0]), delivery(b, REPLIES[1]), delivery(a, REPLIES[2])]);
    expect(Buffer.concat(a.wire)).toEqual(natsJsAcks([REPLIES[0]!, REPLIES[2]!]));
    expect(Buffer.concat(b.wire)).toEqual(natsJsAcks([REPLIES[1]!]));
  });

  it('ack frames - an empty batch sends nothing', () => {
    ackAll([]);
    const p = capturingProtocol();
    ackAll([delivery(p, undefined)]);
    expect(p.wire).toHaveLength(0);
    expect(p.outMsgs).toBe(0);
  });
});
