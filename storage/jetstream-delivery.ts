/**
 * A JetStream delivery's stream sequence and delivery count, read from its ack subject
 * (`$JS.ACK.[<domain>.<account hash>.]<stream>.<consumer>.<delivery count>.<stream seq>.
 * <delivery seq>.<timestamp>.<pending>[.<token>]`) without splitting it: nats.js's `JsMsg.info`
 * splits the subject into a dozen strings and parses five numbers per message, for the two this
 * consumer reads. Any subject not of that shape (or a number not plain digits) is undefined,
 * and nats.js is asked (`JsMsg.info`), so the result is always nats.js's own.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/nats-core';

export interface DeliveryNumbers {
  seq: number;
  deliveryCount: number;
}

const DOT = 0x2e;
const PREFIX = '$JS.ACK.';
/** Positions of the first dots after the prefix (reused: no array per message). */
const dots = new Int32Array(9);

/** The numbers of a delivery; reads nats.js's `JsMsgImpl.msg` (ack-frames.ts reads it too). */
export function deliveryNumbers(m: JsMsg): DeliveryNumbers {
  const reply = (m as unknown as { msg: Msg }).msg.reply;
  const numbers = reply === undefined ? undefined : readDeliveryNumbers(reply);
  if (numbers) return numbers;
  const info = m.info;
  return { seq: info.streamSequence, deliveryCount: info.deliveryCount };
}

export function readDeliveryNumbers(reply: string): DeliveryNumbers | undefined {
  if (!reply.startsWith(PREFIX)) return undefined;
  // Dots after the prefix: the old form has 6 more tokens' worth (6 dots), the new 8 or more.
  let n = 0;
  for (let i = PREFIX.length; i < reply.length; i++)
    if (reply.charCodeAt(i) === DOT) {
      if (n < dots.length) dots[n] = i;
      n++;
    }
  // Token k (0-based, after the prefix) spans (dots[k-1], dots[k]).
  let at: number; // index of the delivery count token
  if (n === 6) at = 2;
  else if (n >= 8) at = 4;
  else return undefined;
  const deliveryCount = digits(reply, dots[at - 1]! + 1, dots[at]!);
  const seq = digits(reply, dots[at]! + 1, dots[at + 1]!);
  if (deliveryCount < 0 || seq < 0) return undefined;
  return { seq, deliveryCount };
}

/** The number written in reply[from, to) if it is 1-15 plain digits, else -1. */
function digits(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}
