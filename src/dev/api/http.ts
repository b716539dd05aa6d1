/**
 * The HTTP shell over the store: URL routing, authentication/authorization, fault
 * injection, the request log, REST verbs, watch streams, discovery and OpenAPI.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest, expired, methodNotAllowed, pathNotFound, reasonForCode } from './errors.js';
import { forbidden, isAllowed, type Authenticator, type TokenUser } from './auth.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, SERVER_VERSION } from './discovery.js';
import type { FaultInjector, RequestFacts, RequestLog, RequestLogEntry } from './faults.js';
import { openApiV2Json, openApiV2Proto } from './openapi.js';
import { PATCH_TYPES } from './patch.js';
import { apiVersionOf, type ResourceInfo } from './resources.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { compareKeys, Store, type DeleteOptions, type StoreEvent } from './store.js';
import { buildTable, wantsTable } from './table.js';
import { isRecord, type KubeObject } from './types.js';

/** What the handler needs from the server. */
export interface HttpContext {
  store: Store;
  auth: Authenticator;
  faults: FaultInjector;
  requestLog: RequestLog;
  /** `127.0.0.1:<port>`, for /api's serverAddressByClientCIDRs. */
  hostPort: () => string;
  /** Live timers/streams to stop on close. */
  closing: () => boolean;
  /** Container output for `pods/log` (undefined: no such container). */
  logs?: (namespace: string, pod: string, container?: string) => string | undefined;
  /** Period of BOOKMARK events on watches that allow them (default 5000 ms). */
  bookmarkIntervalMs?: number;
}

interface Route {
  res: ResourceInfo;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const MAX_BODY = 3 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the server rejected our request due to an error in our request: ${(e as Error).message}`);
  }
}

/** Map a URL path to a resource route, or undefined for non-resource paths. */
function route(ctx: HttpContext, path: string): Route | undefined {
  const segs = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) {
    group = '';
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else return undefined;
  let plural: string;
  let namespace: string | undefined;
  let name: string | undefined;
  let sub: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
    namespace = rest[1];
    plural = rest[2]!;
    name = rest[3];
    sub = rest[4];
    if (rest.length > 5) throw pathNotFound();
  } else {
    plural = rest[0]!;
    name = rest[1];
    sub = rest[2];
    if (rest.length > 3) throw pathNotFound();
  }
  const res = ctx.store.registry.lookup(group, version, plural);
  if (res === undefined) throw pathNotFound();
  if (namespace !== undefined && !res.namespaced) throw pathNotFound();
  const r: Route = { res };
  if (namespace !== undefined) r.namespace = namespace;
  if (name !== undefined) r.name = name;
  if (sub !== undefined) {
    if (sub === 'finalize' && plural === 'namespaces') sub = 'status';
    const extra = plural === 'pods' && (sub === 'binding' || sub === 'eviction' || sub === 'log');
    if (!res.subresources.includes(sub) && !extra) throw pathNotFound();
    r.subresource = sub;
  }
  return r;
}

function verbOf(method: string, r: Route | undefined, query: URLSearchParams): string {
  if (r === undefined) return '';
  const watch = query.get('watch') === 'true' || query.get('watch') === '1';
  switch (method) {
    case 'GET': return r.name === undefined ? (watch ? 'watch' : 'list') : watch ? 'watch' : 'get';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return r.name === undefined ? 'deletecollection' : 'delete';
    default: return method.toLowerCase();
  }
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, e: unknown): number {
  const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
  send(res, err.code, err.toStatus(), err.headers);
  return err.code;
}

function dryRunOf(query: URLSearchParams, body?: unknown): boolean {
  const q = query.getAll('dryRun');
  if (q.some((v) => v !== 'All')) throw badRequest(`Invalid dry run value: ${q.join(',')}; supported values: All`);
  if (q.length > 0) return true;
  return isRecord(body) && Array.isArray(body['dryRun']) && body['dryRun'].includes('All');
}

/** Build the request handler. */
export function createHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(ctx, req, res);
  };
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const query = url.searchParams;
  const entry: RequestLogEntry = {
    time: started,
    method: req.method ?? 'GET',
    path: url.pathname,
    rawQuery: url.search.replace(/^\?/, ''),
    query: Object.fromEntries(query),
    verb: '',
    status: 0,
    durationMs: 0,
  };
  let logged = false;
  const log = (status: number): void => {
    if (logged) return;
    logged = true;
    entry.status = status;
    entry.durationMs = Date.now() - started;
    ctx.requestLog.record(entry);
  };
  res.on('close', () => log(res.headersSent ? res.statusCode : 0));
  const origWriteHead = res.writeHead.bind(res);
  res.writeHead = ((code: number, ...rest: any[]) => {
    const r = origWriteHead(code, ...rest);
    log(code);
    return r;
  }) as typeof res.writeHead;
  try {
    let r: Route | undefined;
    try {
      r = route(ctx, url.pathname);
    } catch (e) {
      // Unknown paths still need auth first (a real server answers 401 before 404).
      ctx.auth.authenticate(req.headers.authorization);
      throw e;
    }
    const verb = verbOf(entry.method, r, query);
    entry.verb = verb;
    if (r) {
      entry.resource = r.res.plural;
      if (r.subresource) entry.subresource = r.subresource;
      if (r.namespace !== undefined) entry.namespace = r.namespace;
      if (r.name !== undefined) entry.name = r.name;
    }
    const user = ctx.auth.authenticate(req.headers.authorization);
    entry.user = user.name;
    const facts: RequestFacts = { verb, user: user.name };
    if (r) {
      facts.resource = r.res.plural;
      if (r.subresource) facts.subresource = r.subresource;
      if (r.namespace !== undefined) facts.namespace = r.namespace;
      if (r.name !== undefined) facts.name = r.name;
    }
    const fault = r ? ctx.faults.take(facts) : { delayMs: 0 };
    if (fault.delayMs > 0) {
      entry.fault = 'delay';
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    }
    const eff = fault.effect;
    if (eff?.kind === 'reset') {
      entry.fault = 'reset';
      req.socket.destroy();
      return;
    }
    if (r === undefined) {
      serveNonResource(ctx, req, res, url.pathname);
      return;
    }
    const authz = { verb, group: r.res.group, resource: r.res.plural, ...(r.subresource ? { subresource: r.subresource } : {}), ...(r.namespace !== undefined ? { namespace: r.namespace } : {}), ...(r.name !== undefined ? { name: r.name } : {}) };
    // Self reviews are open to every authenticated user (system:basic-user in RBAC).
    if (r.res.plural !== 'selfsubjectaccessreviews' && !isAllowed(user, authz)) throw forbidden(user, authz);
    if (eff?.kind === 'status') {
      entry.fault = 'status';
      if (verb === 'watch' && eff.code === 410) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        res.end(JSON.stringify({ type: 'ERROR', object: expired(eff.message ?? 'too old resource version').toStatus() }) + '\n');
        return;
      }
      const headers: Record<string, string> = {};
      if (eff.retryAfterSeconds !== undefined || eff.code === 429 || eff.code === 503) headers['Retry-After'] = String(eff.retryAfterSeconds ?? 1);
      const details: Record<string, unknown> = {};
      if (headers['Retry-After']) details['retryAfterSeconds'] = Number(headers['Retry-After']);
      const msg = eff.message ?? defaultFaultMessage(eff.code, r);
      throw new ApiError(eff.code, reasonForCode(eff.code), msg, details, headers);
    }
    await serveResource(ctx, req, res, r, verb, query, user, eff?.kind === 'dropWatch' ? eff : undefined, (f) => (entry.fault = f));
  } catch (e) {
    sendError(res, e);
  }
}

function defaultFaultMessage(code: number, r: Route): string {
  switch (code) {
    case 429: return 'Too many requests, please try again later.';
    case 503: return 'the server is currently unable to handle the request';
    case 500: return 'Internal error occurred: injected fault';
    case 403: return `${r.res.group ? `${r.res.plural}.${r.res.group}` : r.res.plural}${r.name ? ` "${r.name}"` : ''} is forbidden: injected fault`;
    case 410: return 'too old resource version';
    case 404: return r.name ? `${r.res.group ? `${r.res.plural}.${r.res.group}` : r.res.plural} "${r.name}" not found` : 'the server could not find the requested resource';
    default: return `injected fault ${code}`;
  }
}

function serveNonResource(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, path: string): void {
  const reg = ctx.store.registry;
  const p = path.replace(/\/+$/, '') || '/';
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
  if (p === '/version') return send(res, 200, SERVER_VERSION);
  if (p === '/healthz' || p === '/readyz' || p === '/livez') return send(res, 200, 'ok', { 'Content-Type': 'text/plain; charset=utf-8' });
  if (p === '/api') return send(res, 200, apiVersions(ctx.hostPort()));
  if (p === '/apis') return send(res, 200, apiGroupList(reg));
  if (p === '/openapi/v2' || p === '/swagger-2.0.0.pb-v1') {
    const accept = req.headers.accept ?? '';
    if (accept.includes('protobuf') && !accept.includes('application/json')) {
      return send(res, 200, openApiV2Proto(reg), { 'Content-Type': 'application/octet-stream' });
    }
    return send(res, 200, openApiV2Json(reg));
  }
  let m = /^\/api\/([^/]+)$/.exec(p);
  if (m) {
    const list = apiResourceList(reg, '', m[1]!);
    if (list) return send(res, 200, list);
  }
  m = /^\/apis\/([^/]+)$/.exec(p);
  if (m) {
    const g = apiGroup(reg, m[1]!);
    if (g) return send(res, 200, g);
  }
  m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
  if (m) {
    const list = apiResourceList(reg, m[1]!, m[2]!);
    if (list) return send(res, 200, list);
  }
  throw pathNotFound();
}

function deleteOptionsOf(query: URLSearchParams, body: unknown): DeleteOptions {
  const o: DeleteOptions = {};
  const b = isRecord(body) ? body : {};
  const pp = query.get('propagationPolicy') ?? (typeof b['propagationPolicy'] === 'string' ? b['propagationPolicy'] : undefined);
  if (pp !== undefined) {
    if (pp !== 'Background' && pp !== 'Foreground' && pp !== 'Orphan') throw badRequest(`DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${pp}": supported values: "Foreground", "Background", "Orphan"`);
    o.propagationPolicy = pp;
  } else if (b['orphanDependents'] === true || query.get('orphanDependents') === 'true') o.propagationPolicy = 'Orphan';
  else if (b['orphanDependents'] === false || query.get('orphanDependents') === 'false') o.propagationPolicy = 'Background';
  const g = query.get('gracePeriodSeconds') ?? (typeof b['gracePeriodSeconds'] === 'number' ? String(b['gracePeriodSeconds']) : undefined);
  if (g !== undefined) o.gracePeriodSeconds = Number(g);
  if (isRecord(b['preconditions'])) {
    const p = b['preconditions'];
    o.preconditions = {};
    if (typeof p['uid'] === 'string') o.preconditions.uid = p['uid'];
    if (typeof p['resourceVersion'] === 'string') o.preconditions.resourceVersion = p['resourceVersion'];
  }
  if (dryRunOf(query, body)) o.dryRun = true;
  return o;
}

/** Objects the real registry returns from DELETE instead of a Status. */
function returnsDeletedObject(r: ResourceInfo): boolean {
  return (r.group === '' && r.plural === 'pods') || r.crd === true;
}

async function serveResource(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  r: Route,
  verb: string,
  query: URLSearchParams,
  user: TokenUser,
  drop: { afterMs?: number; afterEvents?: number; mode?: 'destroy' | 'end' } | undefined,
  markFault: (f: string) => void,
): Promise<void> {
  const store = ctx.store;
  const ns = r.res.namespaced ? r.namespace : undefined;
  const accept = req.headers.accept;
  if (r.subresource === 'log' && verb === 'get') return servePodLog(ctx, res, r, query);
  switch (verb) {
    case 'get': {
      const o = store.mustGet(r.res, ns, r.name!);
      if (wantsTable(accept) && !r.subresource) return send(res, 200, buildTable(r.res, [o], o.metadata.resourceVersion ?? '', query.get('includeObject') ?? undefined));
      return send(res, 200, o);
    }
    case 'list': {
      const opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {};
      if (ns !== undefined) opts.namespace = ns;
      const ls = query.get('labelSelector');
      const fs = query.get('fieldSelector');
      if (ls) opts.labelSelector = ls;
      if (fs) opts.fieldSelector = fs;
      checkResourceVersionMatch(query, store.currentRv());
      const rv = String(store.currentRv());
      let items = store.list(r.res, opts);
      const meta: Record<string, unknown> = { resourceVersion: rv };
      const limit = Number(query.get('limit') ?? '0');
      const cont = query.get('continue');
      // A continue token holds the key to resume at (the last key served and a NUL, as
      // the real server's does), so objects deleted or added in between shift nothing.
      // Later pages come from the current state, not from a snapshot at the first
      // page's resourceVersion as on a real server (README.md: deliberate differences).
      const keyOf = (o: KubeObject): string => Store.key(o.metadata.namespace, o.metadata.name ?? '');
      if (cont) {
        let start: unknown;
        try {
          start = JSON.parse(Buffer.from(cont, 'base64').toString('utf8')).start;
        } catch {
          throw badRequest('continue key is not valid');
        }
        if (typeof start !== 'string') throw badRequest('continue key is not valid');
        items = items.filter((o) => compareKeys(keyOf(o), start) >= 0);
      }
      if (limit > 0 && items.length > limit) {
        meta['continue'] = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(rv), start: `${keyOf(items[limit - 1]!)}\u0000` })).toString('base64');
        // Counted only without selectors, as on the real server (it cannot count a filtered rest).
        if (!ls && !fs) meta['remainingItemCount'] = items.length - limit;
        items = items.slice(0, limit);
      }
      if (wantsTable(accept)) {
        const t = buildTable(r.res, items, rv, query.get('includeObject') ?? undefined);
        t['metadata'] = meta;
        return send(res, 200, t);
      }
      return send(res, 200, { kind: r.res.listKind, apiVersion: apiVersionOf(r.res), metadata: meta, items });
    }
    case 'watch':
      return serveWatch(ctx, req, res, r, query, drop, markFault);
    case 'create': {
      const body = parseJson(await readBody(req));
      if (!isRecord(body)) throw badRequest('the server rejected our request due to an error in our request: body must be a JSON object');
      if (r.subresource === 'binding' || r.subresource === 'eviction') return podSubresource(ctx, res, r, body);
      if (r.name !== undefined) throw methodNotAllowed();
      if (r.res.plural === 'selfsubjectaccessreviews') return send(res, 201, accessReview(user, body));
      const obj = body as KubeObject;
      if (!isRecord(obj.metadata)) obj.metadata = {};
      if (r.res.namespaced) {
        if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== '' && obj.metadata.namespace !== ns) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
        obj.metadata.namespace = ns;
      }
      checkApiVersion(r.res, obj);
      const created = store.create(r.res, obj, { dryRun: dryRunOf(query) });
      return send(res, 201, created);
    }
    case 'update': {
      const body = parseJson(await readBody(req));
      if (!isRecord(body) || !isRecord(body['metadata'])) throw badRequest('the server rejected our request due to an error in our request: metadata is required');
      const obj = body as KubeObject;
      if (obj.metadata.name !== r.name) throw badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${String(r.name)})`);
      if (r.res.namespaced) {
        if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== ns) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
        obj.metadata.namespace = ns;
      }
      checkApiVersion(r.res, obj);
      const opts: { dryRun: boolean; subresource?: 'status' } = { dryRun: dryRunOf(query) };
      if (r.subresource === 'status') opts.subresource = 'status';
      return send(res, 200, store.update(r.res, obj, opts));
    }
    case 'patch': {
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (ct === PATCH_TYPES.apply) throw new ApiError(415, 'UnsupportedMediaType', 'server-side apply is not supported by the snapshotctl dev cluster: use kubectl apply (client-side)');
      // Custom resources have no Go struct to read merge keys from: the real server
      // refuses strategic merge patches on them with this 415.
      if (r.res.crd && ct === PATCH_TYPES.strategic) {
        throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
      }
      const body = parseJson(await readBody(req));
      const opts: { dryRun: boolean; subresource?: 'status' } = { dryRun: dryRunOf(query) };
      if (r.subresource === 'status') opts.subresource = 'status';
      return send(res, 200, store.patch(r.res, ns, r.name!, ct, body, opts));
    }
    case 'delete': {
      const body = parseJson(await readBody(req));
      const out = store.delete(r.res, ns, r.name!, deleteOptionsOf(query, body));
      const headers: Record<string, string> = {};
      if (r.res.group === 'batch' && r.res.plural === 'jobs' && query.get('propagationPolicy') === null && !(isRecord(body) && body['propagationPolicy'])) {
        headers['Warning'] = '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"';
      }
      if (!out.removed || returnsDeletedObject(r.res)) return send(res, 200, out.object, headers);
      const details: Record<string, unknown> = { name: r.name, kind: r.res.plural, uid: out.object.metadata.uid };
      if (r.res.group) details['group'] = r.res.group;
      return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details }, headers);
    }
    case 'deletecollection': {
      const body = parseJson(await readBody(req));
      const opts = deleteOptionsOf(query, body);
      const lo: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {};
      if (ns !== undefined) lo.namespace = ns;
      if (query.get('labelSelector')) lo.labelSelector = query.get('labelSelector')!;
      if (query.get('fieldSelector')) lo.fieldSelector = query.get('fieldSelector')!;
      const items = store.list(r.res, lo).map((o) => {
        try {
          return store.delete(r.res, o.metadata.namespace, o.metadata.name ?? '', opts).object;
        } catch {
          return o;
        }
      });
      return send(res, 200, { kind: r.res.listKind, apiVersion: apiVersionOf(r.res), metadata: { resourceVersion: String(store.currentRv()) }, items });
    }
    default:
      throw methodNotAllowed();
  }
}

function checkApiVersion(res: ResourceInfo, obj: KubeObject): void {
  const want = apiVersionOf(res);
  if (obj.apiVersion !== undefined && obj.apiVersion !== '' && obj.apiVersion !== want && !(res.group !== '' && String(obj.apiVersion).split('/')[0] === res.group)) {
    throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`);
  }
  if (obj.kind !== undefined && obj.kind !== '' && obj.kind !== res.kind) {
    throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${res.kind})`);
  }
}

/** pods/log: the process runtime's captured stdout/stderr (empty for sim containers). */
function servePodLog(ctx: HttpContext, res: ServerResponse, r: Route, query: URLSearchParams): void {
  const pod = ctx.store.mustGet(r.res, r.namespace, r.name!);
  const names: string[] = (pod.spec?.containers ?? []).map((c: any) => String(c.name));
  const container = query.get('container') ?? undefined;
  if (container === undefined && names.length > 1) throw badRequest(`a container name must be specified for pod ${r.name}, choose one of: [${names.join(' ')}]`);
  if (container !== undefined && !names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${r.name}`);
  const text = ctx.logs?.(r.namespace ?? '', r.name!, container);
  if (text === undefined) throw badRequest(`container "${container ?? names[0]}" in pod "${r.name}" is waiting to start: ContainerCreating`);
  const tail = Number(query.get('tailLines') ?? '-1');
  const lines = text.split('\n');
  const out = tail >= 0 ? lines.slice(Math.max(0, lines.length - 1 - tail)).join('\n') : text;
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(out);
}

/** pods/binding (what a scheduler posts) and pods/eviction (what `kubectl drain` posts). */
function podSubresource(ctx: HttpContext, res: ServerResponse, r: Route, body: Record<string, unknown>): void {
  const ns = r.namespace;
  const name = r.name ?? '';
  if (r.subresource === 'binding') {
    const target = isRecord(body['target']) ? String(body['target']['name'] ?? '') : '';
    const pod = ctx.store.mustGet(r.res, ns, name);
    if (pod.spec?.nodeName) throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
    ctx.store.mutate(r.res, ns, name, (p) => (p.spec.nodeName = target), { internal: true });
    return send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  }
  ctx.store.delete(r.res, ns, name, {});
  return send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
}

/** SelfSubjectAccessReview: answer from the caller's token rules. */
function accessReview(user: TokenUser, body: Record<string, unknown>): Record<string, unknown> {
  const spec = isRecord(body['spec']) ? body['spec'] : {};
  const ra = isRecord(spec['resourceAttributes']) ? spec['resourceAttributes'] : undefined;
  let allowed = false;
  if (ra) {
    const req = { verb: String(ra['verb'] ?? ''), group: String(ra['group'] ?? ''), resource: String(ra['resource'] ?? ''), ...(ra['subresource'] ? { subresource: String(ra['subresource']) } : {}), ...(ra['namespace'] ? { namespace: String(ra['namespace']) } : {}), ...(ra['name'] ? { name: String(ra['name']) } : {}) };
    allowed = isAllowed(user, req);
  } else allowed = true;
  const status: Record<string, unknown> = { allowed };
  if (!allowed) status['reason'] = '';
  return { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status };
}

/** Would this event be seen by a watch with these filters? Maps selector transitions like the watch cache. */
function filterEvent(ev: StoreEvent, match: (o: KubeObject) => boolean): { type: string; object: KubeObject } | undefined {
  const now = match(ev.object);
  if (ev.type === 'MODIFIED' && ev.oldObject !== undefined) {
    const before = match(ev.oldObject);
    if (now && !before) return { type: 'ADDED', object: ev.object };
    if (!now && before) return { type: 'DELETED', object: ev.object };
  }
  return now ? { type: ev.type, object: ev.object } : undefined;
}

function serveWatch(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  r: Route,
  query: URLSearchParams,
  drop: { afterMs?: number; afterEvents?: number; mode?: 'destroy' | 'end' } | undefined,
  markFault: (f: string) => void,
): void {
  const store = ctx.store;
  const lm = labelMatcher(query.get('labelSelector') ?? undefined);
  const fsel = query.get('fieldSelector') ?? undefined;
  const nameSel = r.name !== undefined ? `metadata.name=${r.name}` : undefined;
  const fm = fieldMatcher([fsel, nameSel].filter(Boolean).join(',') || undefined, r.res.fieldSelectors);
  const ns = r.res.namespaced ? r.namespace : undefined;
  const match = (o: KubeObject): boolean => (ns === undefined || o.metadata.namespace === ns) && lm(o) && fm(o);
  const rvParam = query.get('resourceVersion');
  const key = `${r.res.group}/${r.res.plural}`;
  const sameRes = (ev: StoreEvent): boolean => `${ev.resource.group}/${ev.resource.plural}` === key;
  const useTable = wantsTable(req.headers.accept);
  const includeObject = query.get('includeObject') ?? undefined;

  let backlog: { type: string; object: KubeObject }[] = [];
  if (rvParam === null || rvParam === '' || rvParam === '0') {
    backlog = store.list(r.res, ns !== undefined ? { namespace: ns } : {}).filter(match).map((o) => ({ type: 'ADDED', object: o }));
  } else {
    const n = Number(rvParam);
    if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid resource version: ${rvParam}`);
    const evs = store.eventsSince(r.res, n);
    if (evs === 'expired') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.end(JSON.stringify({ type: 'ERROR', object: expired(`too old resource version: ${n} (${store.currentRv()})`).toStatus() }) + '\n');
      return;
    }
    for (const ev of evs) {
      if (!sameRes(ev)) continue;
      const f = filterEvent(ev, match);
      if (f) backlog.push(f);
    }
  }

  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  let sent = 0;
  let closed = false;
  const timers: NodeJS.Timeout[] = [];
  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    unregister();
    for (const t of timers) clearTimeout(t);
  };
  const cut = (mode: 'destroy' | 'end'): void => {
    markFault('dropWatch');
    cleanup();
    if (mode === 'end') res.end();
    // Let already-written events reach the client, then cut the connection mid-stream
    // (no final chunk), which clients see as a broken watch.
    else res.socket?.destroySoon();
  };
  const write = (ev: { type: string; object: KubeObject }): void => {
    if (closed) return;
    // kubectl get -w asks for Tables: each event then carries a one-row Table.
    const object = useTable ? buildTable(r.res, [ev.object], ev.object.metadata.resourceVersion ?? '', includeObject) : ev.object;
    res.write(JSON.stringify({ type: ev.type, object }) + '\n');
    sent++;
    if (drop?.afterEvents !== undefined && sent >= drop.afterEvents) cut(drop.mode ?? 'destroy');
  };
  const unsubscribe = store.subscribe((ev) => {
    if (!sameRes(ev)) return;
    const f = filterEvent(ev, match);
    if (f) write(f);
  });
  const facts: RequestFacts = { verb: 'watch', resource: r.res.plural };
  if (r.namespace !== undefined) facts.namespace = r.namespace;
  if (r.name !== undefined) facts.name = r.name;
  const unregister = ctx.faults.registerWatch(facts, cut);
  req.on('close', cleanup);
  res.on('close', cleanup);
  const timeout = Number(query.get('timeoutSeconds') ?? '0');
  if (timeout > 0) timers.push(setTimeout(() => { cleanup(); res.end(); }, timeout * 1000));
  if (query.get('allowWatchBookmarks') === 'true') {
    const every = ctx.bookmarkIntervalMs ?? 5000;
    const tick = (): void => {
      if (closed) return;
      res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: r.res.kind, apiVersion: apiVersionOf(r.res), metadata: { resourceVersion: String(store.currentRv()) } } }) + '\n');
      timers.push(setTimeout(tick, every));
    };
    timers.push(setTimeout(tick, every));
  }
  if (drop !== undefined && drop.afterEvents === undefined) timers.push(setTimeout(() => cut(drop.mode ?? 'destroy'), drop.afterMs ?? 0));
  for (const ev of backlog) write(ev);
}

/** A 422 about the list options, as the real server words it. */
function invalidListOptions(cause: { reason: string; message: string }): ApiError {
  return new ApiError(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: ${cause.message}`, {
    group: 'meta.k8s.io',
    kind: 'ListOptions',
    causes: [{ ...cause, field: 'resourceVersionMatch' }],
  });
}

/**
 * `resourceVersionMatch` of a list, checked as the real server checks it. A list is
 * always served from the current state: `Exact` at an older resourceVersion is 410
 * (a real server reads that snapshot from etcd until it is compacted; README.md:
 * deliberate differences), a resourceVersion from the future 504 as on a real server.
 */
function checkResourceVersionMatch(query: URLSearchParams, current: number): void {
  const match = query.get('resourceVersionMatch');
  if (match === null || match === '') return;
  const rv = query.get('resourceVersion') ?? '';
  if (match !== 'Exact' && match !== 'NotOlderThan') {
    throw invalidListOptions({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan", ""` });
  }
  if (rv === '') throw invalidListOptions({ reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided' });
  if (match === 'Exact' && rv === '0') throw invalidListOptions({ reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"' });
  if (!/^\d+$/.test(rv)) throw badRequest(`invalid resource version: resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: invalid syntax`);
  const n = Number(rv);
  if (n > current) throw new ApiError(504, 'Timeout', `Timeout: Too large resource version: ${n}, current: ${current}`, { retryAfterSeconds: 1 });
  if (match === 'Exact' && n < current) throw new ApiError(410, 'Expired', 'The resourceVersion for the provided list is too old.');
}
