/**
 * Fault injection for the reliability tests and the fault benchmark.
 *
 * - {@link TableProxy}: a real HTTP hop between the functions and the DynamoDB-compatible server
 *   that can be taken away (connections reset, as an unreachable endpoint does) now or after a
 *   number of requests, and can hold requests forever (a killed caller).
 * - {@link KillSwitch}: "the function was killed after its k-th request". Every Kubernetes API
 *   request (through {@link killMiddleware}) and every table request (through the proxy) asks it
 *   first; from the (k+1)-th on, requests never leave and never answer, which is what the cluster
 *   and the table see of a Lambda killed mid-step.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Middleware, RequestContext, ResponseContext } from '@kubernetes/client-node';

/** Lets `budget` requests through, then holds every later one forever. */
export class KillSwitch {
  private admitted = 0;
  private resolveKilled!: () => void;
  /** Resolves when the first request is held: the "process" is dead from then on. */
  readonly killed: Promise<void> = new Promise((r) => {
    this.resolveKilled = r;
  });
  private dead = false;
  /** What was let through, in order: `kube PATCH /apis/apps/v1/...`, `table UpdateItem`. */
  readonly log: string[] = [];

  constructor(readonly budget: number) {}

  get isDead(): boolean {
    return this.dead;
  }

  /** Resolves for an admitted request; never resolves once the budget is spent. */
  admit(what: string): Promise<void> {
    if (!this.dead && this.admitted < this.budget) {
      this.admitted++;
      this.log.push(what);
      return Promise.resolve();
    }
    if (!this.dead) {
      this.dead = true;
      this.resolveKilled();
    }
    return new Promise<void>(() => undefined);
  }
}

/** Kubernetes client middleware: every request asks the switch first. */
export function killMiddleware(sw: KillSwitch): Middleware {
  return {
    pre: async (ctx: RequestContext) => {
      const url = new URL(ctx.getUrl());
      await sw.admit(`kube ${ctx.getHttpMethod()} ${url.pathname}`);
      return ctx;
    },
    post: async (res: ResponseContext) => res,
  };
}

/** Kubernetes client middleware that logs each mutating request's time (fault-test oracles). */
export function mutationLog(log: { at: number; what: string }[]): Middleware {
  return {
    pre: async (ctx: RequestContext) => {
      const method = String(ctx.getHttpMethod());
      if (method !== 'GET') log.push({ at: Date.now(), what: `${method} ${new URL(ctx.getUrl()).pathname}` });
      return ctx;
    },
    post: async (res: ResponseContext) => res,
  };
}

type Mode = { kind: 'up' } | { kind: 'down' } | { kind: 'down-after'; left: number };

/** An HTTP proxy in front of a DynamoDB-compatible endpoint. */
export class TableProxy {
  private mode: Mode = { kind: 'up' };
  private killSwitch: KillSwitch | null = null;
  private readonly sockets = new Set<Socket>();
  /** Requests answered by resetting the connection while the table was "down". */
  refused = 0;
  /** Requests forwarded, by operation (`UpdateItem`, `GetItem`, ...). */
  readonly forwarded = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {}

  static async start(targetEndpoint: string): Promise<TableProxy> {
    let proxy: TableProxy | undefined;
    const server = createServer((req, res) => proxy!.handle(req, res));
    proxy = new TableProxy(server, new URL(targetEndpoint));
    server.on('connection', (s) => {
      proxy!.sockets.add(s);
      s.on('close', () => proxy!.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A client for the proxied table, with the local store's retry settings. */
  client(): DynamoDBClient {
    return new DynamoDBClient({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 2,
    });
  }

  /** Every request from now on gets its connection reset. */
  down(): void {
    this.mode = { kind: 'down' };
  }

  /** `n` more requests are forwarded, then the table is down. */
  downAfter(n: number): void {
    this.mode = n <= 0 ? { kind: 'down' } : { kind: 'down-after', left: n };
  }

  up(): void {
    this.mode = { kind: 'up' };
  }

  get isDown(): boolean {
    return this.mode.kind === 'down';
  }

  /** Requests go through `sw` first (a killed caller's requests hang); `null` detaches it. */
  attach(sw: KillSwitch | null): void {
    this.killSwitch = sw;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const op =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .at(-1) ?? '?';
    if (this.killSwitch) await this.killSwitch.admit(`table ${op}`);
    if (this.mode.kind === 'down-after') {
      this.mode = this.mode.left <= 1 ? { kind: 'down' } : { kind: 'down-after', left: this.mode.left - 1 };
    } else if (this.mode.kind === 'down') {
      this.refused++;
      req.socket.destroy();
      return;
    }
    this.forwarded.set(op, (this.forwarded.get(op) ?? 0) + 1);
    const upstream = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  }
}
