/**
 * Who may call a route is a property of the route, never of the URL string: routes are
 * registered inside a group (an encapsulated Fastify plugin) whose onRequest hook checks its
 * access class before any body is read. Every route carries its class and dialect in its config,
 * and a route registered outside a group stops the server from starting.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, RouteOptions } from 'fastify';

/**
 * client: a client key. task-owner: a client key, and the handler serves only that key's tasks.
 * admin: the admin key. signed-link: a link's own signature. public: nobody (health checks).
 */
export type AccessClass = 'client' | 'task-owner' | 'admin' | 'signed-link' | 'public';

/** Which error envelope the route's callers read: OpenAI's, or the task API's `{code,msg,data}`. */
export type Dialect = 'openai' | 'task-api';

export interface RouteAccess {
  access: AccessClass;
  dialect: Dialect;
}

export type AccessHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface RouteGroup extends RouteAccess {
  /** Runs on onRequest, before the body is read. Absent only for `public`. */
  check?: AccessHook;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessClass;
    dialect?: Dialect;
  }
}

export interface RouteEntry extends RouteAccess {
  method: string;
  url: string;
  /** What the route declares it takes and answers (http/schemas/); absent if it declares nothing. */
  schema?: FastifySchema;
}

/** Registers `register`'s routes in their own scope, behind the group's check. */
export function registerGroup(app: FastifyInstance, group: RouteGroup, register: (scope: FastifyInstance) => void): void {
  if (group.access !== 'public' && !group.check) throw new Error(`a '${group.access}' route group needs a check`);
  void app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: group.access, dialect: group.dialect };
    });
    if (group.check) scope.addHook('onRequest', group.check);
    register(scope);
  });
}

/**
 * Collects every route as it is added; when the server gets ready, a route without an access
 * class (registered outside any group) fails the start. Answers the table of routes.
 */
export function trackRouteAccess(app: FastifyInstance): () => readonly RouteEntry[] {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  const table = (): RouteEntry[] =>
    routes.flatMap((route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const { access, dialect } = route.config ?? {};
      if (!access || !dialect) throw new Error(`route ${methods.join(',')} ${route.url} has no access class: register it in a route group`);
      return methods.map((method) => ({ method, url: route.url, access, dialect, ...(route.schema ? { schema: route.schema } : {}) }));
    });
  app.addHook('onReady', async () => {
    table();
  });
  return table;
}

/** The dialect of the route that matched; for unrouted requests, guessed from the path. */
export function dialectOf(request: FastifyRequest): Dialect {
  return request.routeOptions.config.dialect ?? dialectOfPath(request.url);
}

/**
 * The dialect a raw request target most likely speaks, read leniently: percent-escapes decoded
 * where they can be, slashes and dot segments collapsed, case ignored. Only picks an envelope.
 */
export function dialectOfPath(target: string): Dialect {
  const path = target.split(/[?#]/, 1)[0] ?? '';
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // A malformed escape: judge the raw spelling.
  }
  const normal = decoded
    .toLowerCase()
    .replace(/\/(?:\.\/)+/g, '/')
    .replace(/\/{2,}/g, '/');
  return normal.startsWith('/api/v1/') || normal === '/api/v1' ? 'task-api' : 'openai';
}
