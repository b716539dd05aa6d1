/**
 * Create/update validation with the real API server's field paths and messages, so a
 * client sees the same 422 `details.causes` it would get from a cluster. Only the rules
 * our users and tests hit are implemented; everything else is accepted as sent.
 */
import type { StatusCause } from './errors.js';
import type { ResourceInfo } from './resources.js';
import { matchesSelectorObject } from '../../protocol/label-selector.js';
import { isRecord, type KubeObject } from './types.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_MSG = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** Collects causes with field paths. */
class Errs {
  readonly causes: StatusCause[] = [];
  required(field: string, detail?: string): void {
    this.causes.push({ reason: 'FieldValueRequired', message: detail ? `Required value: ${detail}` : 'Required value', field });
  }
  invalid(field: string, value: unknown, detail: string): void {
    this.causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${fmt(value)}: ${detail}`, field });
  }
  notSupported(field: string, value: unknown, supported: string[]): void {
    this.causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${fmt(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`, field });
  }
  duplicate(field: string, value: unknown): void {
    this.causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${fmt(value)}`, field });
  }
  notFound(field: string, value: unknown): void {
    this.causes.push({ reason: 'FieldValueNotFound', message: `Not found: ${fmt(value)}`, field });
  }
  forbidden(field: string, detail: string): void {
    this.causes.push({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field });
  }
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isRecord(v)) return `map[string]string{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${JSON.stringify(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}

/** Kinds whose names are path segments (may contain ':'), as in rbac. */
function nameRule(res: ResourceInfo): 'label' | 'subdomain' | 'segment' {
  if (res.plural === 'namespaces') return 'label';
  if (res.group === 'rbac.authorization.k8s.io') return 'segment';
  return 'subdomain';
}

function validateName(e: Errs, res: ResourceInfo, name: string | undefined, field: string): void {
  if (name === undefined || name === '') return;
  const rule = nameRule(res);
  if (rule === 'label') {
    if (name.length > 63) e.invalid(field, name, 'must be no more than 63 characters');
    if (!DNS1123_LABEL.test(name)) e.invalid(field, name, LABEL_MSG);
  } else if (rule === 'subdomain') {
    if (name.length > 253) e.invalid(field, name, 'must be no more than 253 characters');
    if (!DNS1123_SUBDOMAIN.test(name)) e.invalid(field, name, SUBDOMAIN_MSG);
  } else if (name === '.' || name === '..' || /[/%]/.test(name)) {
    e.invalid(field, name, `may not contain '/' or '%'`);
  }
}

function validateLabels(e: Errs, labels: unknown, field: string): void {
  if (labels === undefined || labels === null) return;
  if (!isRecord(labels)) return e.invalid(field, labels, 'must be a map of strings');
  for (const [k, v] of Object.entries(labels)) {
    const slash = k.lastIndexOf('/');
    const prefix = slash >= 0 ? k.slice(0, slash) : '';
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    if (slash >= 0 && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) e.invalid(field, k, `prefix part ${SUBDOMAIN_MSG}`);
    if (name.length > 63) e.invalid(field, k, 'name part must be no more than 63 characters');
    if (!QUALIFIED_NAME.test(name)) e.invalid(field, k, QUALIFIED_MSG);
    if (typeof v !== 'string') {
      e.invalid(field, v, 'label values must be strings');
      continue;
    }
    if (v.length > 63) e.invalid(field, v, 'must be no more than 63 characters');
    if (!LABEL_VALUE.test(v)) e.invalid(field, v, LABEL_VALUE_MSG);
  }
}

function validateAnnotations(e: Errs, ann: unknown, field: string): void {
  if (ann === undefined || ann === null) return;
  if (!isRecord(ann)) return e.invalid(field, ann, 'must be a map of strings');
  let total = 0;
  for (const [k, v] of Object.entries(ann)) {
    total += k.length + (typeof v === 'string' ? v.length : 0);
    if (typeof v !== 'string') e.invalid(`${field}.${k}`, v, 'annotation values must be strings');
  }
  if (total > 256 * 1024) e.causes.push({ reason: 'FieldValueTooLong', message: `Too long: must have at most 262144 bytes`, field });
}

/**
 * A path that stays beneath the volume: the real `validateLocalDescendingPath` (not
 * absolute, no `..` element; one `..` error however many there are).
 */
function validateLocalDescendingPath(e: Errs, value: string, field: string): void {
  if (value.startsWith('/')) e.invalid(field, value, 'must be a relative path');
  if (value.split('/').includes('..')) e.invalid(field, value, "must not contain '..'");
}

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];

/** Validate a PodSpec at `path`. */
function validatePodSpec(e: Errs, spec: unknown, path: string): void {
  if (!isRecord(spec)) return e.required(path);
  // Volumes first, as the real ValidatePodSpec does: mounts are checked against them.
  const vols = new Set<string>();
  if (Array.isArray(spec['volumes'])) {
    spec['volumes'].forEach((v, i) => {
      const n = isRecord(v) ? v['name'] : undefined;
      if (typeof n !== 'string' || n === '') e.required(`${path}.volumes[${i}].name`);
      else if (vols.has(n)) e.duplicate(`${path}.volumes[${i}].name`, n);
      else vols.add(n);
    });
  }
  const containers = spec['containers'];
  if (!Array.isArray(containers) || containers.length === 0) e.required(`${path}.containers`);
  const seen = new Set<string>();
  const check = (list: unknown, field: string): void => {
    if (!Array.isArray(list)) return;
    list.forEach((c, i) => {
      const p = `${path}.${field}[${i}]`;
      if (!isRecord(c)) return e.required(p);
      const name = c['name'];
      if (typeof name !== 'string' || name === '') e.required(`${p}.name`);
      else {
        if (!DNS1123_LABEL.test(name) || name.length > 63) e.invalid(`${p}.name`, name, LABEL_MSG);
        if (seen.has(name)) e.duplicate(`${p}.name`, name);
        seen.add(name);
      }
      const image = c['image'];
      if (typeof image !== 'string' || image.trim() === '') e.required(`${p}.image`);
      const env = c['env'];
      if (Array.isArray(env)) env.forEach((v, j) => { if (!isRecord(v) || typeof v['name'] !== 'string' || v['name'] === '') e.required(`${p}.env[${j}].name`); });
      const mounts = c['volumeMounts'];
      if (Array.isArray(mounts)) {
        const paths = new Set<string>();
        mounts.forEach((m, j) => {
          if (!isRecord(m)) return;
          const mp = `${p}.volumeMounts[${j}]`;
          const name = m['name'];
          if (typeof name !== 'string' || name === '') e.required(`${mp}.name`);
          else if (!vols.has(name)) e.notFound(`${mp}.name`, name);
          const at = m['mountPath'];
          if (typeof at !== 'string' || at === '') e.required(`${mp}.mountPath`);
          else if (paths.has(at)) e.invalid(`${mp}.mountPath`, at, 'must be unique');
          else paths.add(at);
          for (const key of ['subPath', 'subPathExpr']) {
            const v = m[key];
            if (typeof v === 'string' && v !== '') validateLocalDescendingPath(e, v, `${p}.volumeMounts[${j}].${key}`);
          }
        });
      }
    });
  };
  check(spec['initContainers'], 'initContainers');
  check(containers, 'containers');
  const rp = spec['restartPolicy'];
  if (rp !== undefined && !RESTART_POLICIES.includes(String(rp))) e.notSupported(`${path}.restartPolicy`, rp, RESTART_POLICIES);
}

function validateTemplate(e: Errs, tmpl: unknown, path: string): KubeObject | undefined {
  if (!isRecord(tmpl)) {
    e.required(path);
    return undefined;
  }
  const md = isRecord(tmpl['metadata']) ? tmpl['metadata'] : {};
  validateLabels(e, md['labels'], `${path}.metadata.labels`);
  validatePodSpec(e, tmpl['spec'], `${path}.spec`);
  return tmpl as KubeObject;
}

function nonNegative(e: Errs, v: unknown, field: string): void {
  if (v !== undefined && (typeof v !== 'number' || v < 0 || !Number.isInteger(v))) e.invalid(field, v, 'must be greater than or equal to 0');
}

/** Kind-specific rules. */
function validateKind(e: Errs, res: ResourceInfo, obj: KubeObject): void {
  const spec = obj.spec;
  switch (`${res.group}/${res.plural}`) {
    case '/pods':
      validatePodSpec(e, spec, 'spec');
      break;
    case 'batch/jobs': {
      if (!isRecord(spec)) return e.required('spec');
      const tmpl = validateTemplate(e, spec['template'], 'spec.template');
      const rp = tmpl?.spec?.restartPolicy;
      if (tmpl && rp !== 'OnFailure' && rp !== 'Never') e.notSupported('spec.template.spec.restartPolicy', rp ?? '', ['OnFailure', 'Never']);
      nonNegative(e, spec['backoffLimit'], 'spec.backoffLimit');
      nonNegative(e, spec['parallelism'], 'spec.parallelism');
      nonNegative(e, spec['completions'], 'spec.completions');
      if (spec['activeDeadlineSeconds'] !== undefined && !(typeof spec['activeDeadlineSeconds'] === 'number' && spec['activeDeadlineSeconds'] > 0)) e.invalid('spec.activeDeadlineSeconds', spec['activeDeadlineSeconds'], 'must be greater than 0');
      if (tmpl && isRecord(spec['selector']) && !matchesSelectorObject(tmpl.metadata?.labels, spec['selector'])) {
        e.invalid('spec.template.metadata.labels', tmpl.metadata?.labels ?? {}, '`selector` does not match template `labels`');
      }
      break;
    }
    case 'apps/daemonsets': {
      if (!isRecord(spec)) return e.required('spec');
      const tmpl = validateTemplate(e, spec['template'], 'spec.template');
      if (!isRecord(spec['selector'])) e.required('spec.selector');
      else if (tmpl && !matchesSelectorObject(tmpl.metadata?.labels, spec['selector'])) e.invalid('spec.template.metadata.labels', tmpl.metadata?.labels ?? {}, '`selector` does not match template `labels`');
      const rp = tmpl?.spec?.restartPolicy;
      if (tmpl && rp !== undefined && rp !== 'Always') e.notSupported('spec.template.spec.restartPolicy', rp, ['Always']);
      break;
    }
    case '/persistentvolumeclaims': {
      if (!isRecord(spec)) return e.required('spec');
      const modes = spec['accessModes'];
      if (!Array.isArray(modes) || modes.length === 0) e.required('spec.accessModes', 'at least 1 access mode is required');
      const storage = isRecord(spec['resources']) && isRecord(spec['resources']['requests']) ? spec['resources']['requests']['storage'] : undefined;
      if (storage === undefined) e.required('spec.resources[storage]');
      break;
    }
    case 'apiextensions.k8s.io/customresourcedefinitions': {
      if (!isRecord(spec)) return e.required('spec');
      const names = isRecord(spec['names']) ? spec['names'] : {};
      if (typeof spec['group'] !== 'string' || spec['group'] === '') e.required('spec.group');
      if (typeof names['plural'] !== 'string' || names['plural'] === '') e.required('spec.names.plural');
      if (typeof names['kind'] !== 'string' || names['kind'] === '') e.required('spec.names.kind');
      if (spec['scope'] !== 'Namespaced' && spec['scope'] !== 'Cluster') e.notSupported('spec.scope', spec['scope'] ?? '', ['Cluster', 'Namespaced']);
      if (!Array.isArray(spec['versions']) || spec['versions'].length === 0) e.required('spec.versions', 'must have exactly one version marked as storage version');
      const want = `${String(names['plural'])}.${String(spec['group'])}`;
      if (obj.metadata.name !== want) e.invalid('metadata.name', obj.metadata.name ?? '', 'must be spec.names.plural+"."+spec.group');
      break;
    }
    default:
      break;
  }
}

/**
 * Validate an object about to be stored. Returns the causes (empty when valid).
 * `creating` requires a name or generateName.
 */
export function validateObject(res: ResourceInfo, obj: KubeObject, creating: boolean): StatusCause[] {
  const e = new Errs();
  const md = obj.metadata;
  if (creating && (md.name === undefined || md.name === '') && (md.generateName === undefined || md.generateName === '')) {
    e.required('metadata.name', 'name or generateName is required');
  }
  validateName(e, res, md.name, 'metadata.name');
  validateLabels(e, md.labels, 'metadata.labels');
  validateAnnotations(e, md.annotations, 'metadata.annotations');
  validateKind(e, res, obj);
  return e.causes;
}

/**
 * Pod spec is immutable after creation except a few fields; the real message is long,
 * we keep its first sentence so clients matching on it still work.
 */
export function validatePodUpdate(oldObj: KubeObject, newObj: KubeObject): StatusCause[] {
  const strip = (spec: any): string => {
    const s = JSON.parse(JSON.stringify(spec ?? {}));
    for (const list of ['containers', 'initContainers']) for (const c of s[list] ?? []) delete c.image;
    delete s.activeDeadlineSeconds;
    delete s.tolerations;
    delete s.terminationGracePeriodSeconds;
    return JSON.stringify(s);
  };
  if (strip(oldObj.spec) === strip(newObj.spec)) return [];
  return [{ reason: 'FieldValueForbidden', field: 'spec', message: 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)' }];
}
