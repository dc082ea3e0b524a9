/**
 * Property-based tests of everything tps-deploy accepts from outside: the execution input
 * (parseExecutionInput), the service catalog (parseCatalog) and EventBridge alarm events
 * (alarmEventSchema through handleAlarm). Invalid inputs are refused with an error naming the bad
 * field and nothing is touched; valid inputs, including odd but legal names and image references,
 * always parse. The number of inputs tried is counted and printed at the end (docs/reliability.md).
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { CatalogInput, ServiceConfigInput } from '../../functions/domain/config.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { ConfigError, InvalidInputError } from '../../functions/domain/errors.js';
import { imageVersion, parseExecutionInput } from '../../functions/domain/input.js';
import type { ReleasePorts } from '../../functions/ports/release.js';
import { handleAlarm } from '../../functions/release/alarm.js';

const RUNS = 400;
const tried: Record<string, number> = {};
/** Counts every generated input a property sees. */
function counted<T extends unknown[], R>(name: string, fn: (...args: T) => R): (...args: T) => R {
  return (...args: T) => {
    tried[name] = (tried[name] ?? 0) + 1;
    return fn(...args);
  };
}
afterAll(() => {
  const total = Object.values(tried).reduce((a, b) => a + b, 0);
  // One line for docs/reliability.md; the counts are deterministic for a given seed.
  process.stdout.write(`properties-inputs: ${total} inputs tried ${JSON.stringify(tried)}\n`);
});

// ---- generators ------------------------------------------------------------------------------

const lower = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const alnumLower = (min: number, max: number) =>
  fc.array(lower, { minLength: min, maxLength: max }).map((a) => a.join(''));

/** An RFC 1123 label: lowercase alphanumerics and inner dashes, 1..63 chars (digits first allowed). */
const k8sLabel = fc
  .tuple(
    lower,
    fc.array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split('')), { maxLength: 61 }),
    lower,
  )
  .map(([a, mid, b]) => `${a}${mid.join('')}${b}`)
  .filter((s) => s.length <= 63);
/** A DNS-1035 label (Service names): like an RFC 1123 label, but starting with a letter. */
const serviceName = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'.split('')), k8sLabel)
  .map(([a, rest]) => `${a}${rest}`.slice(0, 63))
  .filter((s) => /[a-z0-9]$/.test(s));
/** An RFC 1123 subdomain: labels joined by dots (Deployment names may contain dots). */
const k8sName = fc
  .array(k8sLabel, { minLength: 1, maxLength: 3 })
  .map((ls) => ls.join('.'))
  .filter((s) => s.length <= 253);

const hostComponent = fc
  .tuple(
    alnumLower(1, 10),
    fc.option(fc.tuple(fc.constantFrom('-', '--'), alnumLower(1, 8)), { nil: undefined }),
  )
  .map(([a, b]) => (b ? `${a}${b[0]}${b[1]}` : a));
const registry = fc
  .tuple(
    fc.array(hostComponent, { minLength: 1, maxLength: 4 }),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  )
  .map(([parts, port]) => `${parts.join('.')}${port === undefined ? '' : `:${port}`}`);
const pathComponent = fc
  .tuple(
    alnumLower(1, 10),
    fc.option(fc.tuple(fc.constantFrom('.', '_', '__', '-', '---'), alnumLower(1, 6)), { nil: undefined }),
  )
  .map(([a, b]) => (b ? `${a}${b[0]}${b[1]}` : a));
const tag = fc
  .tuple(
    fc.constantFrom(...'abcXYZ019_'.split('')),
    fc.array(fc.constantFrom(...'abcXYZ019_.-'.split('')), { maxLength: 127 }),
  )
  .map(([a, rest]) => `${a}${rest.join('')}`);
const digest = fc
  .array(fc.constantFrom(...'0123456789abcdef'.split('')), { minLength: 64, maxLength: 64 })
  .map((h) => `sha256:${h.join('')}`);

interface ImageParts {
  readonly ref: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}
/** A legal image reference with a tag, a digest, or both; with or without a registry and port. */
const image: fc.Arbitrary<ImageParts> = fc
  .tuple(
    fc.option(registry, { nil: undefined }),
    fc.array(pathComponent, { minLength: 1, maxLength: 3 }),
    fc.option(tag, { nil: undefined }),
    fc.option(digest, { nil: undefined }),
  )
  .filter(([, , t, d]) => t !== undefined || d !== undefined)
  .map(([reg, path, t, d]) => ({
    ref: `${reg ? `${reg}/` : ''}${path.join('/')}${t ? `:${t}` : ''}${d ? `@${d}` : ''}`,
    tag: t,
    digest: d,
  }))
  .filter((i) => i.ref.length <= 512);

/** Strings that are not image references with a tag or digest. */
const badImage = fc.oneof(
  fc.constant('api'), // no tag, no digest
  fc.constant('registry.local:5000/api'), // a port is not a tag
  fc.constant('Not An Image!'),
  fc.constant('API:v1'), // uppercase repository
  fc.constant('api:'),
  fc.constant('api@sha256:abc'), // digest too short
  fc.constant(''),
  fc.constant(`api:${'x'.repeat(129)}`), // tag too long
  alnumLower(1, 12).map((s) => `${s} :v1`),
  alnumLower(1, 12).map((s) => `${s}:-v1`), // a tag cannot start with '-'
);

// ---- the catalog used by execution-input properties ---------------------------------------------

function service(extra: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return {
    cluster: { name: 'prod', region: 'us-east-1' },
    namespace: 'shop',
    deployment: 'api',
    containers: ['api', 'sidecar'],
    router: { type: 'replica-ratio', service: 'api' },
    slo: { p99Ms: 300 },
    metrics: { source: 'synthetic', profile: 'healthy' },
    ...extra,
  };
}
const CATALOG = parseCatalog({ appName: 'tps', services: { api: service() } } satisfies CatalogInput);

/** A deep copy, frozen, so a parser that wrote into its input would throw. */
function frozen<T>(v: T): T {
  const copy = structuredClone(v);
  const freeze = (o: unknown) => {
    if (o && typeof o === 'object') {
      Object.freeze(o);
      for (const x of Object.values(o)) freeze(x);
    }
  };
  freeze(copy);
  return copy;
}

function refusal(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputError) return e;
    throw new Error(`expected InvalidInputError, got ${String(e)}`);
  }
  throw new Error('expected InvalidInputError, got a plan');
}

const validInput = fc.record(
  {
    service: fc.constant('api'),
    image: image.map((i) => i.ref),
    mode: fc.constantFrom('standard', 'hotfix'),
    requestedBy: fc.string({ minLength: 1, maxLength: 200 }),
    changeRef: fc.string({ minLength: 1, maxLength: 200 }),
    attestations: fc.record(
      { testsPassed: fc.boolean(), reviewers: fc.array(fc.string({ minLength: 1 }), { maxLength: 4 }) },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['service', 'image'] },
);

describe('parseExecutionInput', () => {
  test('every legal image reference (registries with ports, digests, tag+digest) is accepted with the right version', () => {
    fc.assert(
      fc.property(
        image,
        image,
        fc.constantFrom('standard', 'hotfix'),
        counted('execution input: legal images', (a, b, mode) => {
          const plan = parseExecutionInput(
            frozen({ service: 'api', images: { api: a.ref, sidecar: b.ref }, mode }),
            CATALOG,
            'd-1',
          );
          expect(plan.images).toEqual({ api: a.ref, sidecar: b.ref });
          expect(plan.version).toBe(a.tag ?? a.digest!.slice('sha256:'.length, 'sha256:'.length + 12));
          expect(imageVersion(b.ref)).toBe(b.tag ?? b.digest!.slice(7, 19));
          expect(plan.phases.staging.skip).toBe(mode === 'hotfix');
        }),
      ),
      { numRuns: RUNS },
    );
  });

  test('valid inputs never crash the parser and resolve to a plan for the catalog service', () => {
    fc.assert(
      fc.property(
        validInput,
        counted('execution input: valid', (input) => {
          const plan = parseExecutionInput(frozen(input), CATALOG, 'd-2');
          expect(plan.service).toBe('api');
          expect(plan.images).toEqual({ api: input.image });
          expect(plan.requestedBy).toBe(input.requestedBy ?? 'unknown');
        }),
      ),
      { numRuns: RUNS },
    );
  });

  /** One bad field at a time, and the path(s) the refusal must name. */
  const oneBadField: fc.Arbitrary<{ patch: Record<string, unknown>; paths: readonly string[] }> = fc.oneof(
    badImage.map((v) => ({ patch: { image: v }, paths: ['image'] })),
    badImage.map((v) => ({ patch: { image: undefined, images: { api: v } }, paths: ['images.api'] })),
    fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => !['standard', 'hotfix'].includes(s))
      .map((v) => ({ patch: { mode: v }, paths: ['mode'] })),
    fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => s !== 'api')
      .map((v) => ({ patch: { service: v }, paths: ['service'] })),
    k8sLabel
      .filter((c) => c !== 'api' && c !== 'sidecar')
      .map((c) => ({ patch: { image: undefined, images: { [c]: 'r.io/x:v1' } }, paths: [`images.${c}`] })),
    fc
      .string({ minLength: 1, maxLength: 12 })
      .filter(
        (k) =>
          /^[a-zA-Z]\w*$/.test(k) &&
          ![
            'service',
            'image',
            'images',
            'mode',
            'requestedBy',
            'changeRef',
            'attestations',
            'migration',
          ].includes(k),
      )
      .map((k) => ({ patch: { [k]: 'x' }, paths: [k] })),
    fc.constant({ patch: { image: undefined }, paths: ['image'] }),
    fc.constant({ patch: { images: { api: 'r.io/x:v1' } }, paths: ['images'] }),
    fc.constant({ patch: { requestedBy: '' }, paths: ['requestedBy'] }),
    fc.constant({ patch: { changeRef: 'c'.repeat(201) }, paths: ['changeRef'] }),
    fc.constant({ patch: { attestations: { testsPassed: 'yes' } }, paths: ['attestations.testsPassed'] }),
    fc.constant({
      patch: { attestations: { riskAcknowledgement: 'short' } },
      paths: ['attestations.riskAcknowledgement'],
    }),
    fc.constant({ patch: { attestations: { reviewers: [''] } }, paths: ['attestations.reviewers.0'] }),
    fc.constant({
      patch: { migration: { image: 'r.io/m:v1', command: [], rollbackCommand: ['down'] } },
      paths: ['migration.command'],
    }),
    fc.constant({
      patch: {
        migration: { image: 'r.io/m', command: ['up'], rollbackCommand: ['down'], env: { '1X': 'v' } },
      },
      paths: ['migration.image', 'migration.env.1X'],
    }),
  );

  test('every invalid input is refused with InvalidInputError naming each bad field, and nothing is written', () => {
    fc.assert(
      fc.property(
        validInput,
        fc.array(oneBadField, { minLength: 1, maxLength: 3 }),
        counted('execution input: invalid', (base, bad) => {
          const input: Record<string, unknown> = { ...base };
          const expected = new Set<string>();
          const groups = new Set<string>();
          for (const b of bad) {
            // One patch per field group (image and images are one group), so patches never cancel.
            const group = Object.keys(b.patch).some((k) => k === 'image' || k === 'images')
              ? 'image'
              : Object.keys(b.patch)[0]!;
            if (groups.has(group)) continue;
            groups.add(group);
            Object.assign(input, b.patch);
            for (const p of b.paths) expected.add(p);
          }
          for (const [k, v] of Object.entries(input)) if (v === undefined) delete input[k];
          // Which containers a service has is known only for a service of the catalog.
          if (groups.has('service')) {
            for (const p of [...expected]) if (/^images\.(?!api$|sidecar$)/.test(p)) expected.delete(p);
            expected.add('service');
          }
          const snapshot = JSON.stringify(CATALOG);
          const err = refusal(() => parseExecutionInput(frozen(input), CATALOG, 'd-3'));
          expect(err.name).toBe('InvalidInputError');
          expect(err.issues.length).toBeGreaterThan(0);
          const named = err.issues.map((i) => i.path);
          for (const p of expected) {
            expect(named).toContain(p);
            expect(err.message).toContain(p);
          }
          // Every issue has a message a person can act on.
          for (const i of err.issues) expect(i.message.length).toBeGreaterThan(3);
          expect(JSON.stringify(CATALOG)).toBe(snapshot);
        }),
      ),
      { numRuns: RUNS },
    );
  });

  test('any JSON value at all is either a plan or an InvalidInputError, never a crash', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.jsonValue(),
          fc.dictionary(
            fc.constantFrom(
              'service',
              'image',
              'images',
              'mode',
              'migration',
              'attestations',
              '__proto__',
              'constructor',
            ),
            fc.anything(),
          ),
        ),
        counted('execution input: anything', (raw) => {
          try {
            const plan = parseExecutionInput(raw, CATALOG, 'd-4');
            expect(plan.service).toBe('api');
          } catch (e) {
            expect(e).toBeInstanceOf(InvalidInputError);
            expect((e as InvalidInputError).message).toMatch(/^invalid input: /);
          }
        }),
      ),
      { numRuns: RUNS * 2 },
    );
  });
});

// ---- the catalog ------------------------------------------------------------------------------

describe('parseCatalog', () => {
  test('odd but legal Kubernetes names (63-char labels, dotted Deployments, digits first) are accepted', () => {
    fc.assert(
      fc.property(
        k8sLabel,
        k8sLabel,
        k8sName,
        fc.array(k8sLabel, { minLength: 1, maxLength: 3 }),
        serviceName,
        counted('catalog: legal names', (svcName, ns, dep, containers, routerSvc) => {
          const input = frozen({
            services: {
              [svcName]: service({
                namespace: ns,
                deployment: dep,
                containers,
                router: { type: 'replica-ratio', service: routerSvc },
              }),
            },
          });
          const cat = parseCatalog(input);
          const svc = cat.services[svcName]!;
          expect(svc.namespace).toBe(ns);
          expect(svc.deployment).toBe(dep);
          expect(svc.containers).toEqual(containers);
          expect(cat.appName).toBe('tps-deploy');
        }),
      ),
      { numRuns: RUNS },
    );
    // The edges themselves, explicitly.
    const edge = parseCatalog({
      services: {
        ['a'.repeat(63)]: service({
          namespace: `9${'z'.repeat(62)}`,
          deployment: 'api.v2.shop',
          containers: ['0api'],
        }),
      },
    });
    expect(Object.keys(edge.services)).toEqual(['a'.repeat(63)]);
  });

  const badCatalogField: fc.Arbitrary<{ patch: Partial<ServiceConfigInput>; path: string }> = fc.oneof(
    fc
      .constantFrom('Shop', 'a'.repeat(64), '-shop', 'shop-', 'sh_op', 'sh.op', '')
      .map((v) => ({ patch: { namespace: v }, path: 'namespace' })),
    fc
      .constantFrom('Api', 'api_', '.api', 'api..v2', 'api.', '', 'a'.repeat(254))
      .map((v) => ({ patch: { deployment: v }, path: 'deployment' })),
    fc
      .constantFrom('Api', 'a.b', 'a'.repeat(64))
      .map((v) => ({ patch: { containers: [v] }, path: 'containers.0' })),
    fc.constantFrom('api.v2', '9api', 'a'.repeat(64), 'Api').map((v) => ({
      patch: { router: { type: 'replica-ratio' as const, service: v } },
      path: 'router.service',
    })),
    fc.constant({ patch: { deployment: 'a'.repeat(232) }, path: 'deployment' }),
    fc.constant({ patch: { containers: [] as string[] }, path: 'containers' }),
    fc
      .constantFrom('us-east', 'US-EAST-1', 'east-1')
      .map((v) => ({ patch: { cluster: { name: 'c', region: v } }, path: 'cluster.region' })),
    fc.constantFrom(0, -1).map((v) => ({ patch: { slo: { p99Ms: v } }, path: 'slo.p99Ms' })),
    fc
      .integer({ min: 101, max: 1000 })
      .map((w) => ({ patch: { phases: { canary: { weight: w } } }, path: 'phases.canary.weight' })),
    fc
      .integer({ min: 50, max: 99 })
      .map((w) => ({ patch: { phases: { canary: { weight: w } } }, path: 'phases' })),
    fc
      .integer({ min: 51, max: 99 })
      .map((w) => ({ patch: { phases: { production: { weight: w } } }, path: 'phases' })),
    fc.constant({
      patch: { phases: { canary: { windowSeconds: 86_401 } } },
      path: 'phases.canary.windowSeconds',
    }),
    fc.constant({ patch: { validation: { alpha: 1 } }, path: 'validation.alpha' }),
    fc.constant({ patch: { router: { type: 'mesh' } as never }, path: 'router.type' }),
    fc.constant({ patch: { colour: 'blue' } as never, path: '' }),
  );

  test('every invalid catalog is refused with ConfigError naming the service and the bad field', () => {
    fc.assert(
      fc.property(
        k8sLabel,
        badCatalogField,
        counted('catalog: invalid', (name, bad) => {
          const input = frozen({ services: { [name]: service(bad.patch) } });
          let err: unknown;
          try {
            parseCatalog(input);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(ConfigError);
          const ce = err as ConfigError;
          const prefix = `services.${name}`;
          const want = bad.path ? `${prefix}.${bad.path}` : prefix;
          expect(ce.issues.some((i) => i.path === want || i.path.startsWith(`${want}.`))).toBe(true);
          expect(ce.message).toContain(want);
        }),
      ),
      { numRuns: RUNS },
    );
  });

  test('any value at all is a catalog or a ConfigError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            { appName: fc.anything(), services: fc.dictionary(fc.string(), fc.anything()) },
            { requiredKeys: [] },
          ),
        ),
        counted('catalog: anything', (raw) => {
          try {
            parseCatalog(raw);
          } catch (e) {
            expect(e).toBeInstanceOf(ConfigError);
            expect((e as ConfigError).message).toMatch(/^invalid service catalog: /);
          }
        }),
      ),
      { numRuns: RUNS * 2 },
    );
  });
});

// ---- alarm events ------------------------------------------------------------------------------

/**
 * Ports that record every use. handleAlarm must refuse a malformed event before reading or
 * writing anything, so any use at all is a failure of the property.
 */
function watchedPorts(): { ports: ReleasePorts; used: string[] } {
  const used: string[] = [];
  const trap = (name: string): unknown =>
    new Proxy(
      {},
      {
        get(_t, prop) {
          if (prop === 'then') return undefined;
          used.push(`${name}.${String(prop)}`);
          return () => Promise.reject(new Error(`${name}.${String(prop)} used`));
        },
      },
    );
  const ports = {
    catalog: parseCatalog({ appName: 'tps', services: { shop: service() } }),
    store: trap('store'),
    notifier: trap('notifier'),
    clock: trap('clock'),
    workloads: () => {
      used.push('workloads');
      return Promise.reject(new Error('workloads used'));
    },
    metrics: () => {
      used.push('metrics');
      throw new Error('metrics used');
    },
    executions: () => {
      used.push('executions');
      return Promise.reject(new Error('executions used'));
    },
  } as unknown as ReleasePorts;
  return { ports, used };
}

const stateValue = fc.constantFrom('ALARM', 'OK', 'INSUFFICIENT_DATA');
const alarmEvent = fc.record({
  version: fc.constant('0'),
  id: fc.uuid(),
  'detail-type': fc.constant('CloudWatch Alarm State Change'),
  source: fc.constant('aws.cloudwatch'),
  account: fc.constant('123456789012'),
  time: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  region: fc.constantFrom('us-east-1', 'eu-west-3'),
  resources: fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 2 }),
  detail: fc.record({
    alarmName: fc.string({ minLength: 1, maxLength: 60 }),
    state: fc.record(
      {
        value: stateValue,
        reason: fc.string(),
        reasonData: fc.json(),
        timestamp: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      },
      { requiredKeys: ['value', 'reason', 'timestamp'] },
    ),
    previousState: fc.record({ value: stateValue, reason: fc.string() }, { requiredKeys: ['value'] }),
    configuration: fc.record(
      { description: fc.string(), metrics: fc.array(fc.jsonValue()) },
      { requiredKeys: [] },
    ),
  }),
});

/** Paths of required alarm-event fields, and a wrong value for each. */
const ALARM_BREAKS: readonly { path: string[]; bad: unknown[] }[] = [
  { path: ['id'], bad: [undefined, '', 7] },
  { path: ['detail-type'], bad: [undefined, 'EC2 Instance State-change Notification'] },
  { path: ['source'], bad: [undefined, 'aws.ec2', 'custom.aws.cloudwatch'] },
  { path: ['time'], bad: [undefined, ''] },
  { path: ['region'], bad: [undefined, ''] },
  { path: ['resources'], bad: [undefined, [], 'arn'] },
  { path: ['detail'], bad: [undefined, null, 'x'] },
  { path: ['detail', 'alarmName'], bad: [undefined, '', 1] },
  { path: ['detail', 'state'], bad: [undefined, null] },
  { path: ['detail', 'state', 'value'], bad: [undefined, 'alarm', 'FIRING'] },
  { path: ['detail', 'state', 'reason'], bad: [undefined, 3] },
  { path: ['detail', 'state', 'reasonData'], bad: [{ a: 1 }, 5] },
  { path: ['detail', 'state', 'timestamp'], bad: [undefined, ''] },
  { path: ['detail', 'previousState', 'value'], bad: ['PENDING'] },
];

function setPath(o: Record<string, unknown>, path: readonly string[], v: unknown) {
  let cur = o;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  if (v === undefined) delete cur[path.at(-1)!];
  else cur[path.at(-1)!] = v;
}

describe('alarm events', () => {
  test('well-formed events parse; non-ALARM states and foreign alarms are ignored without touching anything', async () => {
    await fc.assert(
      fc.asyncProperty(
        alarmEvent,
        counted('alarm event: valid', async (ev) => {
          expect(() => frozen(ev)).not.toThrow();
          const { ports, used } = watchedPorts();
          const foreign = !ev.detail.alarmName.startsWith('tps-shop-');
          if (ev.detail.state.value !== 'ALARM' || foreign) {
            const out = await handleAlarm(ports, frozen(ev));
            expect(out.action).toBe('ignored');
            expect(used).toEqual([]);
          }
        }),
      ),
      { numRuns: RUNS },
    );
  });

  test('a malformed event is refused with InvalidInputError naming the bad field, before any read or write', async () => {
    await fc.assert(
      fc.asyncProperty(
        alarmEvent,
        fc.subarray([...ALARM_BREAKS], { minLength: 1, maxLength: 3 }),
        fc.nat(),
        counted('alarm event: invalid', async (ev, breaks, pick) => {
          const raw = structuredClone(ev) as unknown as Record<string, unknown>;
          // Breaking a parent makes its children moot: name the outermost broken path.
          const applied: string[][] = [];
          for (const b of [...breaks].sort((x, y) => x.path.length - y.path.length)) {
            if (applied.some((a) => a.every((k, i) => b.path[i] === k))) continue;
            setPath(raw, b.path, b.bad[pick % b.bad.length]);
            applied.push(b.path);
          }
          const { ports, used } = watchedPorts();
          // Make the event one that would roll back if it parsed: a critical alarm of ours.
          let err: unknown;
          try {
            await handleAlarm(ports, raw);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(InvalidInputError);
          const ie = err as InvalidInputError;
          expect(ie.message).toMatch(/^invalid alarm event: /);
          for (const a of applied) {
            const p = a.join('.');
            expect(ie.issues.map((i) => i.path).some((x) => x === p || x.startsWith(`${p}.`))).toBe(true);
          }
          expect(used).toEqual([]);
        }),
      ),
      { numRuns: RUNS },
    );
  });

  test('any value at all is refused or handled, never a crash, and garbage touches nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.anything(),
        counted('alarm event: anything', async (raw) => {
          const { ports, used } = watchedPorts();
          await expect(handleAlarm(ports, raw)).rejects.toBeInstanceOf(InvalidInputError);
          expect(used).toEqual([]);
        }),
      ),
      { numRuns: RUNS },
    );
  });
});
