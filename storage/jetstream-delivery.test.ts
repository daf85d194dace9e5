import { describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { deliveryNumbers, readDeliveryNumbers } from './jetstream-delivery.ts';

describe('jetstream delivery', () => {
  it('jetstream delivery - the delivery count and stream sequence are read from both ack subject forms', () => {
    // Token order per nats.js's parseInfo: ... <stream>.<consumer>.<delivery count>.<stream seq>.<delivery seq>.<ts>.<pending>
    expect(readDeliveryNumbers('$JS.ACK.EVENTS.EVENTS_royalties.1.17.20.1733490000000000000.3')).toEqual({
      seq: 17,
      deliveryCount: 1,
    });
    expect(
      readDeliveryNumbers(
        '$JS.ACK._.ACCHASH.EVENTS.EVENTS_royalties.3.9007199254740.20.1733490000000000001.0',
      ),
    ).toEqual({ seq: 9007199254740, deliveryCount: 3 });
    expect(readDeliveryNumbers('$JS.ACK.hub.ACCHASH.ÉV.c.12.345.400.1733490000000000002.7.Xy12ab')).toEqual({
      seq: 345,
      deliveryCount: 12,
    });
  });

  it('jetstream delivery - any other subject is left to nats.js (undefined)', () => {
    for (const reply of [
      '',
      '_INBOX.abc',
      '$JS.API.CONSUMER.INFO.S.c',
      '$JS.ACK.S.c.1.2.3.4', // too few tokens (nats.js refuses it)
      '$JS.ACK.a.b.S.c.1.2.3.4', // 10 tokens: refused by nats.js too
      '$JS.ACK.S.c.x.2.3.4.5', // not digits
      '$JS.ACK.S.c.1.-2.3.4.5',
      '$JS.ACK.S.c.1..3.4.5',
      '$JS.ACK.S.c.1.1234567890123456.3.4.5', // beyond exact integers: nats.js's parseInt decides
    ])
      expect(readDeliveryNumbers(reply), reply).toBeUndefined();
  });

  it("jetstream delivery - a message whose subject is not read here gets nats.js's own info", () => {
    const shaped = (reply: string | undefined) =>
      ({ msg: { reply }, info: { streamSequence: 5, deliveryCount: 2 } }) as unknown as JsMsg;
    expect(deliveryNumbers(shaped('$JS.ACK.S.c.1.2.3.4'))).toEqual({ seq: 5, deliveryCount: 2 });
    expect(deliveryNumbers(shaped(undefined))).toEqual({ seq: 5, deliveryCount: 2 });
    expect(deliveryNumbers(shaped('$JS.ACK.S.c.4.77.3.1733490000000000000.0'))).toEqual({
      seq: 77,
      deliveryCount: 4,
    });
  });
});
