/**
 * Bearer-token authentication and per-verb authorization. Each token maps to a user and
 * a list of rules; a request is allowed when one rule covers its verb, resource (with
 * subresource, e.g. `pods/status`), API group and namespace. Messages follow the real
 * RBAC authorizer's wording so clients and tests see what a cluster would say.
 */
import { ApiError } from './errors.js';

/** One permission rule; `*` matches anything in a list. */
export interface AuthRule {
  /** get, list, watch, create, update, patch, delete, deletecollection, or `*`. */
  verbs: string[];
  /** Plural resource names, optionally with a subresource (`pods/status`), or `*`. */
  resources: string[];
  /** API groups (`''` = core); default: any. */
  apiGroups?: string[];
  /** Namespaces the rule applies to; default: all (and cluster-scoped requests). */
  namespaces?: string[];
  /** Object names; default: any. */
  resourceNames?: string[];
}

/** A token's identity. */
export interface TokenUser {
  name: string;
  groups: string[];
  rules: AuthRule[];
}

/** What a request wants to do, in authorizer terms. */
export interface AuthzRequest {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Every permission: what the admin token gets. */
export const ALLOW_ALL: AuthRule[] = [{ verbs: ['*'], resources: ['*'] }];

/**
 * The token table. There is no anonymous access: the server runs on a machine other
 * users and processes share, and the cluster's agents run as root, so every request
 * must carry a token the server issued (the kubeconfig `writeKubeconfig` writes has it).
 */
export class Authenticator {
  private readonly tokens = new Map<string, TokenUser>();

  /** Register (or replace) a token. */
  add(token: string, user: TokenUser): void {
    this.tokens.set(token, user);
  }

  /** Forget a token. */
  remove(token: string): void {
    this.tokens.delete(token);
  }

  /**
   * Who is calling? Throws 401 (the real body: message and reason `Unauthorized`) for
   * a missing, malformed or unknown token.
   */
  authenticate(authorization: string | undefined): TokenUser {
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    const user = m ? this.tokens.get(m[1]!.trim()) : undefined;
    if (user) return user;
    throw new ApiError(401, 'Unauthorized', 'Unauthorized');
  }
}

function covers(list: string[] | undefined, v: string): boolean {
  return list === undefined || list.includes('*') || list.includes(v);
}

/** Is the request allowed by the user's rules? */
export function isAllowed(user: TokenUser, req: AuthzRequest): boolean {
  const res = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  return user.rules.some(
    (r) =>
      covers(r.verbs, req.verb) &&
      (covers(r.resources, res) || (req.subresource !== undefined && r.resources.includes(`${req.resource}/*`))) &&
      covers(r.apiGroups, req.group) &&
      (r.namespaces === undefined || (req.namespace !== undefined && r.namespaces.includes(req.namespace))) &&
      (r.resourceNames === undefined || (req.name !== undefined && r.resourceNames.includes(req.name))),
  );
}

/** The real 403: `pods "x" is forbidden: User "ci" cannot get resource "pods" in API group "" in the namespace "default"`. */
export function forbidden(user: TokenUser, req: AuthzRequest): ApiError {
  const qual = req.group === '' ? req.resource : `${req.resource}.${req.group}`;
  const subject = req.name ? `${qual} "${req.name}"` : qual;
  const resText = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const scope = req.namespace ? `in the namespace "${req.namespace}"` : 'at the cluster scope';
  const msg = `${subject} is forbidden: User "${user.name}" cannot ${req.verb} resource "${resText}" in API group "${req.group}" ${scope}`;
  const details: Record<string, string> = { kind: req.resource };
  if (req.name) details['name'] = req.name;
  if (req.group) details['group'] = req.group;
  return new ApiError(403, 'Forbidden', msg, details);
}
