/**
 * Acks of a handled batch of JetStream deliveries, framed by us and handed to the connection as
 * one command. `JsMsg.ack()` is one nats.js publish per message (`PUB <reply> 4`, its protocol
 * line encoded on its own, three buffers queued); here a batch's acks are one string, encoded
 * once. Still one ack per message (several instances share a durable consumer: no AckAll).
 *
 * The bytes are exactly what `ack()` writes (`msg.respond(+ACK)` through `protocol.publish`,
 * which makes no checks a 4-byte payload could fail); the message is marked acked as `ack()`
 * marks it, so a later ack/nak/term of it is a no-op as before. This uses internals of nats
 * 3 (`JsMsgImpl.msg`/`didAck`, `MsgImpl.publisher`, `protocol.sendCommand`):
 * ack-frames.test.ts compares the frames with nats.js's own, and the engine tests consume
 * through a real server, so an upgrade that changes them fails there.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { MsgImpl, ProtocolHandler } from '@nats-io/nats-core/internal';

/** What `JsMsg.ack()` sends as the payload. */
const ACK = '+ACK';

/** The fields of nats.js's `JsMsgImpl` that `ack()` reads and sets. */
interface AckableMsg {
  msg: MsgImpl;
  didAck: boolean;
}

/**
 * Acks every message (skipping those already acked or without a reply subject, as `ack()`
 * does), one command per connection.
 */
export function ackAll(msgs: readonly JsMsg[]): void {
  let protocol: ProtocolHandler | undefined;
  let text = '';
  let n = 0;
  for (const jm of msgs) {
    const m = jm as unknown as AckableMsg;
    if (m.didAck) continue;
    m.didAck = true; // as ack() marks it: a later ack/nak/term of it sends nothing
    const reply = m.msg.reply;
    if (!reply) continue;
    const p = m.msg.publisher as ProtocolHandler;
    if (p !== protocol) {
      if (protocol) send(protocol, text, n);
      protocol = p;
      text = '';
      n = 0;
    }
    text += `PUB ${reply} ${ACK.length}\r\n${ACK}\r\n`;
    n++;
  }
  if (protocol) send(protocol, text, n);
}

function send(protocol: ProtocolHandler, text: string, n: number): void {
  if (n === 0) return;
  // The counters nats.js's publish keeps (`nc.stats()`).
  protocol.outMsgs += n;
  protocol.outBytes += n * ACK.length;
  protocol.sendCommand(text);
}
