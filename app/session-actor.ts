/**
 * Binds the session machine of actors/ to this server: one machine per process (its ports
 * route by user id), one actor per listener. The server's config maps onto the machine's
 * SessionConfig here; persisting uses actors/'s own versioned snapshot format.
 */
import { createActor } from 'xstate';
import { parseSessionConfig } from '../actors/config.ts';
import type { SessionPorts } from '../actors/ports.ts';
import { createSessionMachine } from '../actors/session-machine.ts';
import { persistContext } from '../actors/session-snapshot.ts';
import type { ActorSettings } from './config.ts';
import type { StartActor } from '../session/session-hub.ts';

export function sessionActorStarter(config: ActorSettings): StartActor {
  const sessionConfig = parseSessionConfig({
    startBitrateKbps: config.startBitrateKbps,
    urlTtlMs: config.urlTtlS * 1000,
    disconnectGraceMs: Math.max(1, config.activeDeviceGraceMs),
    endWatchdogMs: config.endWatchdogMs,
  });
  const machines = new WeakMap<SessionPorts, ReturnType<typeof createSessionMachine>>();
  return (ports, input, onError) => {
    let machine = machines.get(ports);
    if (!machine) machines.set(ports, (machine = createSessionMachine(ports, sessionConfig)));
    const actor = createActor(machine, { input });
    // An error observer keeps a fault inside one actor from becoming an uncaught exception
    // of the process; the hub drops that session (see SessionHub.failed).
    actor.subscribe({ error: (err) => onError?.(err) });
    actor.start();
    return {
      send: (command) => actor.send(command),
      persist: () => persistContext(actor.getSnapshot().context, ports.now()),
      stop: () => actor.stop(),
    };
  };
}
