/** A load generator's device socket: opened without compression, and (optionally) welcomed. */
import WebSocket from 'ws';
import { decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';

export async function openBenchDevice(
  url: string,
  token: string,
  deviceId: string,
  hello = true,
): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  if (!hello) return ws;
  await new Promise<void>((resolve, reject) => {
    ws.once('message', (data: Buffer) => {
      const r = decodeServerFrame(new Uint8Array(data));
      if (r.ok && r.frame.t === 'welcome') resolve();
      else reject(new Error(`hello refused: ${JSON.stringify(r.ok ? r.frame : r.error)}`));
    });
    ws.send(
      encodeFrame({
        t: 'hello',
        id: 1,
        token,
        device: { id: deviceId, name: 'bench', type: 'other' },
        protocol: PROTOCOL_VERSION,
      }),
    );
  });
  return ws;
}
