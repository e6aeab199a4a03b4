/**
 * app.swagger(), the OpenAPI document of every route, with @fastify/swagger's generator loaded at
 * its first call instead of at start: the generator (with json-schema-resolver and the YAML
 * writer, ~100 files) is for /openapi.json and the docs page, which a start does not need.
 *
 * What the plugin would have seen as it was registered (each route, each child instance) is kept
 * here, and given to it in the same order when it is loaded: the document is the one it would
 * have made at start. Install before any route is registered.
 */
import { createRequire } from 'node:module';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';

type Generator = FastifyInstance['swagger'];

/** The part of a Fastify instance the plugin uses while it is registered. */
interface PluginHost {
  addHook(name: string, hook: (...args: never[]) => unknown): void;
  decorate(name: string, value: Generator): void;
  getSchemas(): Record<string, unknown>;
}

export function installOpenApiOnDemand(app: FastifyInstance, options: FastifyDynamicSwaggerOptions): void {
  const routes: RouteOptions[] = [];
  const instances: FastifyInstance[] = [];
  let ready = false;
  app.addHook('onRoute', (route) => void routes.push(route));
  app.addHook('onRegister', (instance) => void instances.push(instance));
  app.addHook('onReady', async () => {
    ready = true;
  });
  let generator: Generator | undefined;
  const swagger = ((opts?: { yaml?: boolean }) => {
    // As the plugin says: the routes are all known only once the server is ready.
    if (!ready) throw new Error('.swagger() must be called after .ready()');
    generator ??= loadGenerator(app, options, routes, instances);
    return (generator as (o?: { yaml?: boolean }) => unknown)(opts);
  }) as Generator;
  app.decorate('swagger', swagger);
}

function loadGenerator(app: FastifyInstance, options: FastifyDynamicSwaggerOptions, routes: RouteOptions[], instances: FastifyInstance[]): Generator {
  // The plugin's own function, without fastify-plugin's wrapper: it is given a host, not registered.
  const { fastifySwagger } = createRequire(import.meta.url)('@fastify/swagger') as typeof import('@fastify/swagger');
  const hooks = new Map<string, ((...args: unknown[]) => unknown)[]>();
  let generator: Generator | undefined;
  const host: PluginHost = {
    addHook: (name, hook) => hooks.set(name, [...(hooks.get(name) ?? []), hook as (...args: unknown[]) => unknown]),
    decorate: (_name, value) => {
      generator = value;
    },
    getSchemas: () => app.getSchemas(),
  };
  let failed: unknown;
  fastifySwagger(host as unknown as FastifyInstance, { ...options }, (err) => {
    failed = err;
  });
  if (failed) throw failed;
  const run = (name: string, ...args: unknown[]) => {
    for (const hook of hooks.get(name) ?? []) hook(...args);
  };
  for (const route of routes) run('onRoute', route);
  for (const instance of instances) run('onRegister', instance);
  run('onReady', () => {});
  if (!generator) throw new Error('@fastify/swagger did not decorate the instance');
  return generator;
}
