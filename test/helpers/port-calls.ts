/**
 * What the code of each task really calls, read from the source with the TypeScript type checker
 * (no table involved), so that the declared permission table (functions/contract/permissions.ts)
 * can be compared with it:
 *
 * - {@link SourceIndex.portCalls}: from a task's step (functions/release/registry.ts `STEPS`), every port
 *   method it can reach: the body of the step, and of every function, method or class of
 *   functions/ it names, transitively (all branches, as IAM must allow every branch). A call
 *   `x.m(...)` counts as `Port.m` when `m` is declared by an interface in functions/ports/,
 *   whatever `x` is called (`ports.store`, a destructured `store`, a `Pick<ReleasePorts, ...>`).
 *   A call through another interface of functions/ cannot be followed into its implementations;
 *   it is reported as `unfollowed Interface.method`, so the test refuses it rather than miss it.
 * - {@link SourceIndex.sdkActions}: from an adapter method, every AWS SDK command it can send
 *   (`new GetCommand(...)`, `paginateGetMetricData(...)`), transitively through the adapter's own helpers, as IAM actions.
 */
import { join, sep } from 'node:path';
import ts from 'typescript';

/** The repository root (two levels up from test/helpers). */
const ROOT = join(import.meta.dirname, '..', '..');
const FUNCTIONS = join(ROOT, 'functions') + sep;
const PORTS = join(ROOT, 'functions', 'ports') + sep;

/** IAM service prefix of each AWS SDK package the functions use. */
const SDK_SERVICE: Readonly<Record<string, string>> = {
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-rds': 'rds',
  '@aws-sdk/client-codepipeline': 'codepipeline',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-eks': 'eks',
  '@aws-sdk/client-lambda': 'lambda',
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/lib-dynamodb': 'dynamodb',
};

/** Commands whose IAM action is not named after them (Lambda's Invoke is `lambda:InvokeFunction`). */
const RENAMED_ACTIONS: Readonly<Record<string, string>> = {
  'lambda:Invoke': 'lambda:InvokeFunction',
};

/** lib-dynamodb's document commands and the DynamoDB API action each one sends. */
const DOCUMENT_COMMANDS: Readonly<Record<string, string>> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  Query: 'Query',
  Scan: 'Scan',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
};

/** The type checker over the files given and everything they import. */
export class SourceIndex {
  readonly program: ts.Program;
  readonly checker: ts.TypeChecker;

  constructor(files: readonly string[]) {
    const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
    this.program = ts.createProgram(
      files.map((f) => join(ROOT, f)),
      { ...parsed.options, noEmit: true },
    );
    this.checker = this.program.getTypeChecker();
  }

  /** A source file of the program by its path from the repository root. */
  file(path: string): ts.SourceFile {
    const f = this.program.getSourceFile(join(ROOT, path));
    if (!f) throw new Error(`SourceIndex: ${path} is not in the program`);
    return f;
  }

  /** The declarations a name refers to, through imports and re-exports. */
  declarationsOf(node: ts.Node): ts.Declaration[] {
    let symbol = this.checker.getSymbolAtLocation(node);
    if (!symbol) return [];
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    return symbol.declarations ?? [];
  }

  /**
   * The code reachable from `starts`: each start node, and the declaration of every function,
   * method, variable or class of functions/ (outside functions/ports) named in reached code.
   */
  reachable(starts: readonly ts.Node[]): ts.Node[] {
    const seen = new Set<ts.Node>();
    const queue = [...starts];
    const out: ts.Node[] = [];
    while (queue.length > 0) {
      const node = queue.pop()!;
      if (seen.has(node)) continue;
      seen.add(node);
      out.push(node);
      const visit = (n: ts.Node): void => {
        if (ts.isIdentifier(n) && !isTypePosition(n)) {
          for (const d of this.declarationsOf(n)) {
            const file = d.getSourceFile().fileName;
            if (!file.startsWith(FUNCTIONS) || file.startsWith(PORTS) || file.endsWith('.d.ts')) continue;
            const body = codeOf(d);
            if (body && !seen.has(body)) queue.push(body);
          }
        }
        ts.forEachChild(n, visit);
      };
      ts.forEachChild(node, visit);
    }
    return out;
  }

  /** Every `Port.method` called in the code reachable from `starts`. */
  portCalls(starts: readonly ts.Node[]): Set<string> {
    const calls = new Set<string>();
    for (const node of this.reachable(starts)) {
      const visit = (n: ts.Node): void => {
        if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
          for (const d of this.declarationsOf(n.expression.name)) {
            const owner = d.parent;
            if (!owner || !ts.isInterfaceDeclaration(owner)) continue;
            const file = d.getSourceFile().fileName;
            if (file.startsWith(PORTS)) {
              calls.add(`${owner.name.text}.${n.expression.name.text}`);
            } else if (file.startsWith(FUNCTIONS)) {
              // A call through one of our own interfaces outside functions/ports: the reading cannot
              // tell which implementation runs, so it reports the call for the test to refuse.
              calls.add(`unfollowed ${owner.name.text}.${n.expression.name.text}`);
            }
          }
        }
        // `const { workloads } = ports` or `({ notify }: Notifier) =>`: a port method taken out of
        // its object is not called as `x.m(...)`, so the reading reports it instead of missing it.
        if ((ts.isVariableDeclaration(n) || ts.isParameter(n)) && ts.isObjectBindingPattern(n.name)) {
          const type = this.checker.getTypeAtLocation(n.name);
          for (const element of n.name.elements) {
            const name = (element.propertyName ?? element.name).getText();
            const member = type.getProperty(name);
            const owner = member?.declarations?.[0]?.parent;
            if (!member || !owner || !ts.isInterfaceDeclaration(owner)) continue;
            if (!owner.getSourceFile().fileName.startsWith(PORTS)) continue;
            const callable =
              this.checker.getTypeOfSymbolAtLocation(member, element).getCallSignatures().length > 0;
            if (callable) calls.add(`unfollowed destructured ${owner.name.text}.${name}`);
          }
        }
        ts.forEachChild(n, visit);
      };
      visit(node);
    }
    return calls;
  }

  /** Every AWS SDK command constructed in the code reachable from `starts`, as IAM actions. */
  sdkActions(starts: readonly ts.Node[]): Set<string> {
    const actions = new Set<string>();
    for (const node of this.reachable(starts)) {
      const visit = (n: ts.Node): void => {
        // `new XCommand(...)`, or a paginator `paginateX(...)` that sends X.
        const named =
          ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text.endsWith('Command')
            ? { id: n.expression, command: n.expression.text }
            : ts.isCallExpression(n) &&
                ts.isIdentifier(n.expression) &&
                /^paginate[A-Z]/.test(n.expression.text)
              ? { id: n.expression, command: `${n.expression.text.slice('paginate'.length)}Command` }
              : null;
        if (named) {
          for (const d of this.declarationsOf(named.id)) {
            const pkg = /node_modules\/(@aws-sdk\/[^/]+)\//.exec(d.getSourceFile().fileName)?.[1];
            if (pkg === undefined) continue;
            actions.add(iamActionOf(pkg, named.command));
          }
        }
        ts.forEachChild(n, visit);
      };
      visit(node);
    }
    return actions;
  }

  /** The declaration of `member` of class `className` in `path`. */
  method(path: string, className: string, member: string): ts.Node {
    const cls = this.file(path).statements.find(
      (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === className,
    );
    if (!cls) throw new Error(`SourceIndex: no class ${className} in ${path}`);
    const m = cls.members.find((x) => x.name !== undefined && x.name.getText() === member);
    if (!m) throw new Error(`SourceIndex: no member ${member} in ${className} (${path})`);
    return m;
  }

  /** The public methods of class `className` in `path` (constructor and private members left out). */
  publicMethods(path: string, className: string): string[] {
    const cls = this.file(path).statements.find(
      (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === className,
    );
    if (!cls) throw new Error(`SourceIndex: no class ${className} in ${path}`);
    return cls.members
      .filter(ts.isMethodDeclaration)
      .filter(
        (m) => !(ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)),
      )
      .map((m) => m.name.getText());
  }
}

/** The IAM action an SDK command of this package sends. */
export function iamActionOf(pkg: string, command: string): string {
  const service = SDK_SERVICE[pkg];
  if (service === undefined) {
    throw new Error(`port-calls: no IAM service prefix for ${pkg} (${command}); add it to SDK_SERVICE`);
  }
  const name = command.replace(/Command$/, '');
  const action = `${service}:${pkg === '@aws-sdk/lib-dynamodb' ? (DOCUMENT_COMMANDS[name] ?? `unknown ${name}`) : name}`;
  return RENAMED_ACTIONS[action] ?? action;
}

/** Whether an identifier is (part of) a type, not a value the code uses. */
function isTypePosition(n: ts.Identifier): boolean {
  let p: ts.Node = n.parent;
  while (ts.isQualifiedName(p) || ts.isPropertyAccessExpression(p)) p = p.parent;
  return ts.isTypeNode(p) || ts.isImportSpecifier(p) || ts.isExportSpecifier(p) || ts.isImportClause(p);
}

/** The code behind a declaration, if it is code (a function, method, class or initialized value). */
function codeOf(d: ts.Declaration): ts.Node | undefined {
  if (
    ts.isFunctionDeclaration(d) ||
    ts.isMethodDeclaration(d) ||
    ts.isConstructorDeclaration(d) ||
    ts.isGetAccessorDeclaration(d) ||
    ts.isClassDeclaration(d)
  ) {
    return d;
  }
  if ((ts.isVariableDeclaration(d) || ts.isPropertyDeclaration(d)) && d.initializer) return d.initializer;
  if (ts.isPropertyAssignment(d)) return d.initializer;
  return undefined;
}

/** The step function of each task in functions/release/registry.ts's `STEPS`. */
export function stepDeclarations(index: SourceIndex): Record<string, ts.Node> {
  const registry = index.file('functions/release/registry.ts');
  let steps: ts.ObjectLiteralExpression | undefined;
  const find = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && n.name.getText() === 'STEPS' && n.initializer) {
      steps = n.initializer as ts.ObjectLiteralExpression;
    }
    ts.forEachChild(n, find);
  };
  find(registry);
  if (!steps || !ts.isObjectLiteralExpression(steps)) throw new Error('port-calls: STEPS not found');
  const out: Record<string, ts.Node> = {};
  for (const p of steps.properties) {
    let decls: ts.Declaration[];
    if (ts.isShorthandPropertyAssignment(p)) {
      let symbol = index.checker.getShorthandAssignmentValueSymbol(p);
      if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = index.checker.getAliasedSymbol(symbol);
      decls = symbol?.declarations ?? [];
    } else if (ts.isPropertyAssignment(p)) {
      decls = index.declarationsOf(p.initializer);
    } else {
      throw new Error(`port-calls: cannot read STEPS entry ${p.getText()}`);
    }
    const code = decls.map(codeOf).filter((x): x is ts.Node => x !== undefined);
    const name = p.name.getText();
    if (code.length === 0) throw new Error(`port-calls: STEPS.${name} resolves to no code`);
    out[name] = code[0]!;
  }
  return out;
}
