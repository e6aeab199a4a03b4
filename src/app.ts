/** Composition root: builds every service from a Config and wires them. Holds no logic. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { ApiKeyService } from './billing/api-keys.js';
import { Credits } from './billing/credits.js';
import { SettlementRetry } from './billing/settlement-retry.js';
import { Settlement, type HoldEnding } from './billing/settlement.js';
import { InMemoryRateLimiter, reportingRefusals, type RateLimiter } from './billing/rate-limits.js';
import { RedisOutageRateLimiter } from './billing/redis-outage-limits.js';
import { RequestLog } from './billing/request-log.js';
import { UsageReport } from './billing/usage-report.js';
import type { Config } from './config.js';
import type { TaskCounts } from './core/metrics-sink.js';
import { BackgroundWork } from './core/background-work.js';
import { MemoryBudget } from './core/memory-budget.js';
import { ANSWER_READ_AHEAD_BYTES, ANSWER_READ_AHEAD_MEMORY_BYTES } from './providers/read-ahead.js';
import { MAX_INPUT_IMAGE_BYTES } from './core/image-input.js';
import { ModelCatalogue, type ServedModels } from './core/models.js';
import { Pricing } from './core/pricing.js';
import { openDatabase, type Database } from './db/database.js';
import { openSecretBox } from './db/secret-box.js';
import { getOrCreateSecretSetting } from './db/settings.js';
import { registerAdminChannelRoutes } from './http/admin-channels.js';
import { registerAdminKeyRoutes } from './http/admin-keys.js';
import { registerAdminWebhookRoutes } from './http/admin-webhooks.js';
import { registerAdminUsageRoutes, registerClientUsageRoutes } from './http/usage-routes.js';
import { registerAdminTaskRoutes } from './http/admin-tasks.js';
import { registerNewApiTaskRoutes } from './http/newapi-tasks.js';
import { registerTaskApiQueryRoute, registerTaskApiSubmitRoute } from './http/task-api.js';
import { createCallbackUrlCheck } from './tasks/callback-url.js';
import { EndingWebhooks } from './tasks/ending-webhooks.js';
import { TaskService } from './tasks/task-service.js';
import { TaskStore } from './tasks/task-store.js';
import { TaskWorker } from './tasks/task-worker.js';
import { WebhookSecrets } from './tasks/webhook-secrets.js';
import { deliveryFailureLine, WebhookOutbox } from './tasks/webhooks.js';
import { createSignedLinkCheck, registerFileRoutes } from './http/files.js';
import { registerAccountRoutes } from './http/account-routes.js';
import { registerAdminImageRoutes } from './http/admin-images.js';
import { registerThumbnailRoute } from './http/gallery-thumbnails.js';
import { createGalleryLinks } from './http/gallery-view.js';
import { ImageGallery } from './storage/image-gallery.js';
import { ThumbnailCache } from './storage/thumbnails.js';
import { registerGroup, type RouteEntry } from './http/access.js';
import { installOpenApi, registerApiDocsRoutes } from './http/api-docs.js';
import { CONSOLE_BUILD_DIR, imageOriginsOf, registerConsoleRoutes } from './http/console.js';
import { createAdminAuthHook, createAdminKeyTest } from './http/admin-auth.js';
import { createAuthHook } from './http/auth.js';
import { registerHealthRoutes } from './http/health.js';
import { installHttpMetrics, registerMetricsRoute } from './http/metrics.js';
import { listenForMetrics, type MetricsListener } from './http/metrics-listener.js';
import { ReadinessChecks } from './http/readiness.js';
import { registerOpenAIRoutes } from './http/openai.js';
import { createHttpServer } from './http/server.js';
import { ImageInputResolver } from './inputs/input-resolver.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { SafeFetcher } from './net/safe-fetch.js';
import { createImageFetcher } from './output/fetch-image.js';
import { ImageOutput } from './output/image-output.js';
import { ContentSafety } from './output/content-safety.js';
import type { ImageSafetyClassifier } from './core/image-safety.js';
import { createLogger } from './logger.js';
import { ImagePipeline } from './pipeline.js';
import { startupSummary } from './startup-summary.js';
import { createProviders } from './providers/registry.js';
import { HttpTransport } from './providers/transport.js';
import { SpoolDir } from './spool/spool-dir.js';
import { ChannelRegistry } from './routing/channel-registry.js';
import { ChannelStore } from './routing/channel-store.js';
import { ChannelTester } from './routing/channel-tester.js';
import { CircuitBreakers } from './routing/circuit-breaker.js';
import { ConcurrencyLimiter } from './routing/concurrency.js';
import { RedisCircuitBreakers } from './routing/redis-channel-health.js';
import { RedisChannelSlots } from './routing/redis-concurrency.js';
import { demoChannel } from './routing/demo-channel.js';
import { ChannelRouter } from './routing/router.js';
import { FsImageStore } from './storage/fs-store.js';
import type { ImageStore } from './storage/image-store.js';
import { ImageRecords } from './storage/image-records.js';
import { RetentionSweeper } from './storage/retention-sweeper.js';
import { UrlSigner } from './storage/url-signer.js';
import { tracedStore } from './storage/traced-store.js';
import { NO_SPANS } from './core/spans.js';
import { startTracing, type TraceExporter } from './tracing/start-tracing.js';

export interface App {
  config: Config;
  http: FastifyInstance;
  database: Database;
  keys: ApiKeyService;
  logger: Logger;
  sweeper: RetentionSweeper;
  /** Bytes held in flight now (inUse) and the most allowed (limit): IMAGEGATE_MEMORY_BUDGET. */
  memory: Pick<MemoryBudget, 'inUse' | 'limit'>;
  /** Every HTTP route with its access class and dialect. */
  routes(): readonly RouteEntry[];
  /** Where the server listens, once it does: http://host:port. */
  readonly address: string | undefined;
  /** Where the metrics listener (IMAGEGATE_METRICS_PORT) listens, once it does. */
  readonly metricsAddress: string | undefined;
  listen(): Promise<string>;
  /** Stops taking requests, finishes in-flight ones and background writes, then closes. */
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** Without `logger`: where the configured logger (LOG_LEVEL, IMAGEGATE_LOG_FORMAT) writes; stdout by default. */
  logDestination?: DestinationStream;
  /** Sees the SQL of every statement run (tests count them). */
  onQuery?: (sql: string) => void;
  /** Hears a reservation asked to settle a second time (a bug; the second is not sent). Logged as an error by default; tests fail on it. */
  onSettledTwice?: (requestId: string, first: HoldEnding, second: HoldEnding) => void;
  /** Traces go here, each span as it ends, whatever the OTEL_* variables say (tests: an in-memory exporter). */
  traceExporter?: TraceExporter;
  /** The content check's classifier instead of src/safety/'s (unit tests of the policy only; the e2e tests run the real one). */
  safetyClassifier?: ImageSafetyClassifier;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config, options.logDestination);
  const database = await openDatabase(config.database, {
    timeouts: config.databaseTimeouts,
    log: logger,
    ...(options.onQuery ? { onQuery: options.onQuery } : {}),
  });
  const { db } = database;
  // Background loops log their own failures, but not each one a database outage causes: the pool logs the outage once.
  const quietDb = database.quietDuringOutage.bind(database);
  const background = new BackgroundWork(quietDb((err, what: string) => logger.error({ err }, `background work failed: ${what}`)));
  // OpenTelemetry (src/tracing/) is loaded only when tracing is on: off, the spans are no-ops.
  const tracing = await startTracing(config.tracing, { logger, ...(options.traceExporter ? { exporter: options.traceExporter } : {}) });
  const spans = tracing?.spans ?? NO_SPANS;

  // The AWS SDK, ioredis and BullMQ (and pg, in db/) are loaded only when the configuration uses
  // them: loaded always, they were half the CPU of an embedded start and ~30 MB of its memory.
  const s3 = config.s3 ? new (await import('./storage/s3-store.js')).S3ImageStore(config.s3) : undefined;
  const store: ImageStore & { close(): Promise<void> } = tracedStore(s3 ?? new FsImageStore(join(config.dataDir, 'images')), s3 ? 's3' : 'file', spans);
  const keys = new ApiKeyService(db, config.apiKeys);
  const catalogue = ModelCatalogue.withAliases(config.modelAliases);

  // Counts request bodies held in memory and upstream answers read ahead of slow clients.
  const memory = new MemoryBudget(config.memoryBudgetBytes);
  // Uploads wait for their checks and upstream calls on disk, and so do answers read ahead of
  // stalled clients past their first bytes; a crash's leftovers go now.
  const spool = await SpoolDir.open(join(config.dataDir, 'spool'), config.spoolBudgetBytes);
  const httpTransport = new HttpTransport(spans, {
    budget: memory,
    maxBytes: ANSWER_READ_AHEAD_BYTES,
    spill: { dir: spool, memoryBytes: ANSWER_READ_AHEAD_MEMORY_BYTES },
  });
  const providers = createProviders(httpTransport, { delayMs: config.demoDelayMs });
  const secrets = openSecretBox({ secretKey: config.secretKey, database: config.database, dataDir: config.dataDir });
  const urlSecret = config.urlSecret ?? (await getOrCreateSecretSetting(db, secrets, 'url_signing_secret', () => randomBytes(32).toString('base64url')));
  const signer = new UrlSigner(urlSecret);
  const channelStore = new ChannelStore(db, secrets);
  await channelStore.syncConfigChannels(config.channels);
  const registry = new ChannelRegistry(channelStore, demoChannel(config));
  await registry.refresh();
  // What /v1/models lists and a request may name: the catalogue models an enabled channel serves.
  const served: ServedModels = { serves: (id) => registry.serves(id), ids: () => catalogue.list().flatMap((m) => (registry.serves(m.id) ? [m.id] : [])) };
  const { routing } = config;
  // With Redis, task dispatch, rate limits and channel health are shared by every instance; the
  // link tells them when Redis is away, and they go on without it meanwhile.
  const scaleOut = config.redisUrl ? await loadRedisModules() : undefined;
  const redis = config.redisUrl && scaleOut ? new scaleOut.RedisLink(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs, logger }) : undefined;
  const logUnlessOutage = (what: string) => {
    const report = (err: unknown) => logger.error({ err }, what);
    return redis ? redis.quietDuringOutage(report) : report;
  };
  const breakerSettings = { failureThreshold: routing.breakerThreshold, cooldownMs: routing.breakerCooldownSeconds * 1000 };
  const breakers = redis ? new RedisCircuitBreakers(redis, breakerSettings, { keyPrefix: `${config.redisPrefix}:ch:` }) : new CircuitBreakers(breakerSettings);
  const sharedSlots = redis
    ? new RedisChannelSlots(redis, { keyPrefix: `${config.redisPrefix}:ch:`, onError: logUnlessOutage('channel slot lease failed') })
    : undefined;
  const limiter = sharedSlots ?? new ConcurrencyLimiter();
  const tester = new ChannelTester(providers, catalogue, breakers);
  // Prometheus metrics (src/metrics/): routing reports its attempts; breakers and slots are read at scrape time.
  const metrics = new GatewayMetrics({
    taskCounts: (): Promise<TaskCounts> => taskStore.counts(),
    channelHealth: () =>
      Promise.all(
        registry
          .all()
          .map(async ({ channel }) => ({ channel: channel.name, breaker: (await breakers.snapshot(channel.id)).state, inFlight: limiter.count(channel.id) })),
      ),
  });
  const records = new ImageRecords(db, metrics);
  const router = new ChannelRouter({
    registry,
    store: channelStore,
    providers,
    breakers,
    limiter,
    settings: {
      maxAttempts: routing.maxAttempts,
      deadlineMs: routing.deadlineSeconds * 1000,
      maxRetryWaitMs: routing.maxRetryWaitSeconds * 1000,
      taskMaxAttempts: config.tasks.maxAttempts,
    },
    onKeyDisabled: (channel, reason) => logger.warn({ channel, reason }, 'upstream refused a key: stopped using it'),
    metrics,
    spans,
  });

  let address: string | undefined;
  const publicUrl = () => config.publicUrl ?? address ?? `http://${config.host}:${config.port}`;
  const output = new ImageOutput({
    store,
    records,
    signer,
    background,
    publicUrl,
    fetchImage: createImageFetcher(httpTransport, config.upstreamTimeoutSeconds * 1000),
    urlTtlSeconds: config.urlTtlSeconds,
    retentionSeconds: config.retentionSeconds,
    keepB64Images: config.keepB64Images,
    keepPrompts: config.galleryPrompts,
  });
  const settlementRetry = new SettlementRetry({
    onGiveUp: (err, requestId) => logger.error({ err, requestId }, 'credit settlement not applied: its reservation stays held'),
  });
  const credits = new Credits(db, Date.now, settlementRetry);
  const prices = new Pricing(config.pricing, catalogue, config.modelAliases);
  const settlement = new Settlement({
    credits,
    prices,
    onSettleError: (err, requestId) => logger.error({ err, requestId }, 'credit settlement failed'),
    onSettledTwice:
      options.onSettledTwice ??
      ((requestId, first, second) => logger.error({ requestId, first, second }, 'a reservation was asked to settle twice: the second settlement was not sent')),
  });
  // The classifier (TensorFlow.js in worker threads) is imported and started at the first image checked, never before.
  let classifier: Promise<ImageSafetyClassifier> | undefined;
  const safetyClassifier = () => {
    classifier ??= options.safetyClassifier
      ? Promise.resolve(options.safetyClassifier)
      : import('./safety/nsfw-classifier.js').then(({ createNsfwClassifier }) => createNsfwClassifier({ workers: config.safety.workers, log: logger }));
    return classifier;
  };
  const contentSafety = new ContentSafety({
    defaultPolicy: config.safety.defaultPolicy,
    classifier: safetyClassifier,
    channelsFor: (modelId) => registry.usableFor(modelId),
    output,
    metrics,
  });
  const pipeline = new ImagePipeline(router, output, new RequestLog(db, background), { settlement, prices, metrics }, Date.now, spans, contentSafety);
  const { inputs: inputLimits } = config;
  // With Redis the limits hold across instances (and follow IMAGEGATE_RATE_LIMIT_ON_REDIS_DOWN while it is away); alone, memory is enough.
  const redisLimiter =
    redis && scaleOut
      ? new scaleOut.RedisRateLimiter(redis.client, { keyPrefix: `${config.redisPrefix}:rl:`, onError: logUnlessOutage('rate limiter failed') })
      : null;
  const rateLimiter: RateLimiter = reportingRefusals(
    redis && redisLimiter
      ? new RedisOutageRateLimiter(redisLimiter, redis, config.rateLimitOnRedisDown, logUnlessOutage('rate limiter failed'))
      : new InMemoryRateLimiter(),
    metrics,
  );
  const sign = (name: string) => output.signedUrl(name);
  const webhookFetcher = new SafeFetcher({
    maxBytes: 64 * 1024,
    timeoutMs: 10_000,
    maxRedirects: 0,
    allowPrivate: inputLimits.allowPrivateUrls,
    allowAddresses: inputLimits.allowedPrivateAddresses,
  });
  const webhookSecrets = new WebhookSecrets(db, secrets);
  const webhookTimer =
    config.redisUrl && redis && scaleOut
      ? new scaleOut.BullmqWebhookTimer({ redisUrl: config.redisUrl, prefix: config.redisPrefix, redis, onError: logUnlessOutage('webhook timer failed') })
      : undefined;
  const outbox = new WebhookOutbox({
    db,
    fetcher: webhookFetcher,
    secrets: webhookSecrets,
    ...(webhookTimer ? { onDue: (dueAt: number) => webhookTimer.schedule(dueAt) } : {}),
    onError: quietDb((err) => logger.error({ err }, 'webhook outbox failed')),
    metrics,
    spans,
    // A receiver's failure, once per attempt recorded (not the outbox's own: onError).
    onAttemptFailed: (failure) => {
      const { fields, message } = deliveryFailureLine(failure);
      logger.warn(fields, message);
    },
  });
  const taskStore = new TaskStore(db, Date.now, metrics);
  const taskConfig = config.tasks;
  let dispatchTask = (_taskId: string) => {};
  const checkCallbackUrl = createCallbackUrlCheck({ allowPrivate: inputLimits.allowPrivateUrls, allowAddresses: inputLimits.allowedPrivateAddresses });
  const tasks = new TaskService({
    store: taskStore,
    settlement,
    deadlineMs: taskConfig.deadlineMs,
    checkCallbackUrl,
    wake: (taskId) => dispatchTask(taskId),
    screenPrompt: (job, key) => pipeline.screenPrompt(job, key),
  });
  const endingWebhooks = new EndingWebhooks({
    db,
    store: taskStore,
    outbox,
    sign,
    // A task ends at most its deadline after it was created: a periodic sweep looks that far back.
    sweepEveryMs: taskConfig.leaseMs,
    sweepWindowMs: taskConfig.deadlineMs + 2 * taskConfig.leaseMs,
    onRepaired: (taskId) => logger.warn({ taskId }, 'an ended task had no webhook delivery: wrote it'),
    onError: quietDb((err) => logger.error({ err }, 'webhook repair sweep failed')),
  });
  const worker = new TaskWorker({
    store: taskStore,
    pipeline,
    settlement,
    catalogue,
    webhooks: endingWebhooks,
    // With Redis, BullMQ runs the tasks and one polling loop is the safety net for lost jobs.
    concurrency: config.redisUrl ? 1 : taskConfig.workers,
    leaseMs: taskConfig.leaseMs,
    pollMs: config.redisUrl ? Math.max(taskConfig.pollMs, 10_000) : taskConfig.pollMs,
    onError: quietDb((err, taskId?: string, what?: string) => logger.error({ err, taskId }, what ?? 'task worker failed')),
    spans,
    keySafety: async (keyId) => (await keys.get(keyId))?.policy.safety ?? null,
  });
  const dispatch =
    config.redisUrl && redis && scaleOut
      ? new scaleOut.BullmqTaskDispatch({
          redisUrl: config.redisUrl,
          prefix: config.redisPrefix,
          tasks: worker,
          store: taskStore,
          redis,
          concurrency: taskConfig.workers,
          onError: logUnlessOutage('task dispatch failed'),
        })
      : undefined;
  dispatchTask = (taskId) => (dispatch ? dispatch.notify(taskId) : worker.wake());
  const urlFetcher = new SafeFetcher({
    maxBytes: MAX_INPUT_IMAGE_BYTES,
    timeoutMs: inputLimits.fetchTimeoutMs,
    maxRedirects: 5,
    allowPrivate: inputLimits.allowPrivateUrls,
    allowAddresses: inputLimits.allowedPrivateAddresses,
  });
  const inputs = new ImageInputResolver({ fetcher: urlFetcher, maxTotalBytes: inputLimits.uploadLimitBytes });

  const { app: http, routes } = createHttpServer({
    logger,
    logPrompts: config.logPrompts,
    bodyLimitBytes: config.bodyLimitBytes,
    timeouts: config.http.timeouts,
    trustedProxies: config.http.trustedProxies,
    memory,
    spool,
    spans,
  });
  // Every answer counted by route pattern (http/metrics.ts); /metrics is admin.
  installHttpMetrics(http, metrics);
  // Before any route: the OpenAPI document is generated from every route schema (http/api-docs.ts).
  installOpenApi(http);
  // The gallery (admin and each key's own): thumbnails cached under the data dir, whichever store holds the images.
  const thumbnails = new ThumbnailCache({ dir: join(config.dataDir, 'thumbnails'), store, maxAgeMs: config.retentionSeconds * 1000 });
  const gallery = new ImageGallery({ records, store, thumbnails });
  const galleryLinks = createGalleryLinks({ signer, publicUrl, ttlSeconds: config.urlTtlSeconds, imageLink: sign });
  const isDemoOnly = (model: string) => registry.servedByDemoOnly(model);
  const clientKey = createAuthHook(keys);
  const adminKey = createAdminAuthHook(config.adminKey);
  registerGroup(http, { access: 'client', dialect: 'openai', check: clientKey }, (scope) => {
    registerOpenAIRoutes(scope, {
      catalogue,
      pipeline,
      isDemoOnly,
      served,
      inputs,
      uploadLimitBytes: inputLimits.uploadLimitBytes,
      streamKeepAliveMs: config.streamKeepAliveMs,
      limiter: rateLimiter,
      tasks: { tasks, sign },
    });
    registerClientUsageRoutes(scope, { usage: new UsageReport(db), keys });
    registerAccountRoutes(scope, { keys, gallery, links: galleryLinks, tasks, taskStore, outbox, usage: new UsageReport(db), sign });
  });
  registerGroup(http, { access: 'task-owner', dialect: 'openai', check: clientKey }, (scope) => registerNewApiTaskRoutes(scope, { tasks, sign }));
  registerGroup(http, { access: 'client', dialect: 'task-api', check: clientKey }, (scope) =>
    registerTaskApiSubmitRoute(scope, { catalogue, inputs, tasks, sign, limiter: rateLimiter, served }),
  );
  registerGroup(http, { access: 'task-owner', dialect: 'task-api', check: clientKey }, (scope) => registerTaskApiQueryRoute(scope, { tasks, sign }));
  registerGroup(http, { access: 'admin', dialect: 'openai', check: adminKey }, (scope) => {
    registerAdminTaskRoutes(scope, { store: taskStore, outbox, sign });
    registerAdminKeyRoutes(scope, { keys, credits, webhookSecrets });
    registerAdminWebhookRoutes(scope, { webhookSecrets });
    registerAdminUsageRoutes(scope, { usage: new UsageReport(db), keys });
    registerAdminChannelRoutes(scope, { store: channelStore, registry, breakers, limiter, tester, defaultTimeoutSeconds: config.upstreamTimeoutSeconds });
    registerMetricsRoute(scope, metrics);
    registerAdminImageRoutes(scope, { gallery, links: galleryLinks, keys });
  });
  registerGroup(http, { access: 'signed-link', dialect: 'openai', check: createSignedLinkCheck(signer) }, (scope) => {
    registerFileRoutes(scope, store);
    registerThumbnailRoute(scope, { gallery, thumbnails });
  });
  // /readyz: every check runs at once with 800 ms each, so the probe answers within a second (/healthz consults none).
  const readiness = new ReadinessChecks(800).add('database', (timeoutMs) => database.ping(timeoutMs));
  if (redis) readiness.add('redis', () => redis.check());
  readiness.add('image_store', (timeoutMs) => store.checkWritable(timeoutMs)).add('channels', async () => registry.checkServing());
  registerGroup(http, { access: 'public', dialect: 'openai' }, (scope) =>
    registerHealthRoutes(scope, readiness, { showsDetails: createAdminKeyTest(config.adminKey) }),
  );
  registerGroup(http, { access: 'public', dialect: 'openai' }, (scope) => registerApiDocsRoutes(scope));
  if (config.console) {
    const imageOrigins = imageOriginsOf(config.publicUrl, config.s3);
    registerGroup(http, { access: 'public', dialect: 'openai' }, (scope) => registerConsoleRoutes(scope, { root: CONSOLE_BUILD_DIR, imageOrigins }));
  }

  const sweeper = new RetentionSweeper(records, store);
  let closed = false;
  let metricsListener: MetricsListener | undefined;

  return {
    config,
    http,
    database,
    keys,
    logger,
    sweeper,
    memory,
    routes,
    get address() {
      return address;
    },
    get metricsAddress() {
      return metricsListener?.address;
    },
    async listen() {
      // A moment for Redis to answer, so that a healthy start does not begin without it.
      await redis?.waitUntilUp(2_000);
      await http.listen({ host: config.host, port: config.port });
      const bound = http.server.address();
      const port = typeof bound === 'object' && bound ? bound.port : config.port;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      address = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (config.metricsPort !== null) metricsListener = await listenForMetrics(config.host, config.metricsPort, metrics);
      const routed = (path: string) => (routes().some((r) => r.method === 'GET' && (r.url === path || r.url === `${path}/`)) ? path : undefined);
      const docs = { page: routed('/docs'), openapi: routed('/openapi.json') };
      const summary = startupSummary({
        config,
        address,
        imagesDir: join(config.dataDir, 'images'),
        channels: registry.all(),
        catalogue: catalogue.list().map((m) => m.id),
        docs,
        console: routed('/console') ? '/console/' : undefined,
      });
      for (const line of summary) logger.info({ startup: line.topic }, line.msg);
      sweeper.start(
        config.sweepIntervalSeconds * 1000,
        quietDb((err) => logger.error({ err }, 'retention sweep failed')),
      );
      thumbnails.start(config.sweepIntervalSeconds * 1000, (err) => logger.error({ err }, 'thumbnail cache prune failed'));
      registry.start(
        routing.channelRefreshSeconds * 1000,
        quietDb((err) => logger.error({ err }, 'channel refresh failed')),
      );
      if (routing.channelTestIntervalSeconds > 0) {
        tester.start(registry, routing.channelTestIntervalSeconds * 1000, (err) => logger.error({ err }, 'channel test failed'));
      }
      if (!secrets)
        logger.warn(
          'IMAGEGATE_SECRET_KEY is not set: upstream keys and webhook secrets are stored in clear in PostgreSQL. Set it (openssl rand -base64 32) on every instance',
        );
      if (inputLimits.allowPrivateUrls) {
        logger.warn(
          'IMAGEGATE_ALLOW_PRIVATE_URLS=true: image URLs may point at loopback and private addresses. For development and tests only; never in production',
        );
      } else if (inputLimits.allowedPrivateAddresses.length > 0) {
        logger.warn({ addresses: inputLimits.allowedPrivateAddresses }, 'IMAGEGATE_ALLOW_PRIVATE_URLS: these private addresses may be fetched as image URLs');
      }
      worker.start();
      dispatch?.start();
      // With Redis, BullMQ wakes the outbox when deliveries fall due; its own poll is the safety net.
      outbox.start(config.redisUrl ? Math.max(taskConfig.pollMs, 10_000) : taskConfig.pollMs);
      webhookTimer?.start(outbox);
      if (registry.isDemoOnly()) {
        logger.warn('DEMO channel active: no OPENAI_API_KEY is set, so images are drawn locally by the built-in demo renderer, not by a real model');
      }
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      sweeper.stop();
      thumbnails.stop();
      registry.stop();
      tester.stop();
      await worker.stop();
      await dispatch?.close();
      await http.close();
      await metricsListener?.close();
      await redisLimiter?.close();
      sharedSlots?.close();
      await webhookTimer?.close();
      await redis?.close();
      await outbox.drain();
      await background.drain();
      await settlementRetry.close(5_000);
      await httpTransport.close();
      await urlFetcher.close();
      await webhookFetcher.close();
      await store.close();
      await classifier?.then(
        (c) => c.close(),
        () => {},
      );
      // Last: the spans of everything stopped above are ended, and exported now.
      await tracing?.shutdown();
      await database.close();
    },
  };
}

/** What only a Redis deployment needs (ioredis, BullMQ), loaded when REDIS_URL is set. */
async function loadRedisModules() {
  const [link, rateLimits, dispatch, webhooks] = await Promise.all([
    import('./redis/redis-link.js'),
    import('./billing/redis-rate-limits.js'),
    import('./tasks/bullmq-dispatch.js'),
    import('./tasks/bullmq-webhooks.js'),
  ]);
  return {
    RedisLink: link.RedisLink,
    RedisRateLimiter: rateLimits.RedisRateLimiter,
    BullmqTaskDispatch: dispatch.BullmqTaskDispatch,
    BullmqWebhookTimer: webhooks.BullmqWebhookTimer,
  };
}
