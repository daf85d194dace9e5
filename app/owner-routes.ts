/**
 * Cluster mode: the HTTP player API answered by the listener's owner. A player request on a
 * node that does not run the listener's session goes to the node that does (the lease's
 * holder), as a relayed device command does; the owner runs the very route there (the same
 * checks, rate limit, actor answer and journal) and its response comes back as it is, so the
 * status codes are the same on every node. The request was validated here already: the owner
 * gets the parsed context. With no owner anywhere (no live session), the route runs here and
 * answers as it does on one node.
 */
import type { Logger } from 'pino';
import type { ApiResponse, ApiRoute, RouteContext } from '../session/http/api-router.ts';
import { OwnedElsewhere } from '../session/placement.ts';
import type { ClusterNode } from '../cluster/cluster-node.ts';

interface RouteCall {
  /** `<METHOD> <path template>`: the route, the same on every node of one build. */
  route: string;
  ctx: RouteContext<unknown, unknown>;
}

const routeKey = (r: ApiRoute): string => `${r.method} ${r.path}`;
/** An owner that moves between the lookup and the call: looked up again this often. */
const MAX_TRIES = 3;

/**
 * `otherCalls` answers the owner calls that are not routes (the state watches of streams on
 * other nodes, cluster/state-relay.ts); undefined: not one of its calls.
 */
export function ownerRoutes(
  routes: readonly ApiRoute[],
  cluster: ClusterNode,
  log: Logger,
  otherCalls: (userId: string, call: unknown) => Promise<unknown> | undefined = () => undefined,
): ApiRoute[] {
  const byKey = new Map(routes.map((r) => [routeKey(r), r]));
  cluster.serveCalls(async (userId, call) => {
    const other = otherCalls(userId, call);
    if (other) return other;
    const { route, ctx } = call as RouteCall;
    const r = byKey.get(route);
    if (!r) throw new Error(`no route ${route} on this node`);
    return r.handle(ctx);
  });
  return routes.map((r) => ({
    ...r,
    async handle(ctx: RouteContext<unknown, unknown>): Promise<ApiResponse> {
      for (let i = 0; i < MAX_TRIES; i++) {
        const owner = await cluster.ownerOf(ctx.userId);
        if (owner === undefined || owner === cluster.nodeId) return r.handle(ctx);
        try {
          return (await cluster.call(owner, ctx.userId, {
            route: routeKey(r),
            ctx,
          } satisfies RouteCall)) as ApiResponse;
        } catch (err) {
          if (err instanceof OwnedElsewhere) continue;
          // The owner is gone or silent: its devices are being moved; answered as with no session.
          log.warn({ err: String(err), user: ctx.userId, owner }, 'player request: the owner did not answer');
          return r.handle(ctx);
        }
      }
      return r.handle(ctx);
    },
  }));
}
