/**
 * What nodes say to each other about relayed devices, and on which subjects.
 *
 * A **link** is one device socket on a relaying node bound to a session on its owner. The
 * relaying node numbers its links; the owner knows a link as (relaying node, number).
 *
 *   <name>.node.<id>             requests to a node: `ping` (alive? draining?), `attach`, and
 *                                `call` (a request for the owner of a listener, e.g. over HTTP)
 *   <name>.node.<id>.in.<from>   commands and detaches of links from node <from>, in order
 *   <name>.node.<id>.out         frames and closes for node <id>'s links, in order
 *
 * NATS keeps the order of one connection's messages to one subscriber, so per device the
 * commands reach the owner, and its frames the device, in the order they were sent. The link
 * messages are a byte of kind, four of link number, then the payload: the owner's frames go
 * back as the very bytes it encoded, never re-encoded.
 */
import type { ClientFrame, DeviceHello, ResumePoint } from '../protocol/messages.ts';
import type { Principal } from '../session/auth.ts';

export const nodeSubject = (name: string, node: string): string => `${name}.node.${node}`;
export const inSubject = (name: string, node: string, from: string): string =>
  `${name}.node.${node}.in.${from}`;
export const outSubject = (name: string, node: string): string => `${name}.node.${node}.out`;

export type NodeRequest =
  | { t: 'ping' }
  | {
      t: 'attach';
      from: string;
      link: number;
      /** As the relaying node verified it from the token. */
      principal: Principal;
      device: DeviceHello;
      helloId: number;
      resume?: ResumePoint;
    }
  /** A call for the listener's owner (the HTTP player API's requests); `call` is the caller's. */
  | { t: 'call'; userId: string; call: unknown };

export type NodeReply =
  | { t: 'pong'; draining: boolean }
  | { t: 'attached' }
  | { t: 'called'; answer: unknown }
  /** Not attached: the session runs on `owner` now (or nowhere yet: ''), or this node drains. */
  | { t: 'refused'; owner: string; why: string };

export const enum LinkKind {
  Command = 1,
  Detach = 2,
  Frame = 3,
  StateFrame = 4,
  Close = 5,
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function message(kind: LinkKind, link: number, payload?: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + (payload?.byteLength ?? 0));
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, link);
  if (payload) out.set(payload, 5);
  return out;
}

export const commandMessage = (link: number, frame: ClientFrame): Uint8Array =>
  message(LinkKind.Command, link, encoder.encode(JSON.stringify(frame)));
export const detachMessage = (link: number): Uint8Array => message(LinkKind.Detach, link);
export const frameMessage = (link: number, frame: Uint8Array, coalesce: boolean): Uint8Array =>
  message(coalesce ? LinkKind.StateFrame : LinkKind.Frame, link, frame);
export const closeMessage = (link: number, code: number, reason: string): Uint8Array =>
  message(LinkKind.Close, link, encoder.encode(JSON.stringify({ code, reason })));

export interface LinkMessage {
  kind: LinkKind;
  link: number;
  payload: Uint8Array;
}

/** undefined for bytes no node of ours sent. */
export function readLinkMessage(bytes: Uint8Array): LinkMessage | undefined {
  if (bytes.byteLength < 5 || bytes[0]! < LinkKind.Command || bytes[0]! > LinkKind.Close) return undefined;
  const link = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  return { kind: bytes[0] as LinkKind, link, payload: bytes.subarray(5) };
}

export const readJson = <T>(payload: Uint8Array): T => JSON.parse(decoder.decode(payload)) as T;
export const jsonBytes = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
