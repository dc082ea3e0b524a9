/**
 * The subset of CloudWatch metric math the stack's alarms use, evaluated one period at a time:
 * numbers, metric ids, `+ - * /`, the comparisons `> < >= <= == !=`, `IF(condition, a, b)` and
 * `FILL(id, value)` (CloudWatch user guide, "Using metric math": IF and FILL functions). Any other
 * function or token is refused when the alarm is read, so an expression this module cannot
 * evaluate never silently evaluates to something.
 *
 * Per period, a missing value (null) stays missing through arithmetic, comparisons and IF's
 * condition, as a metric-math result has no datapoint at a timestamp where an operand has none;
 * FILL turns a missing value into its constant. A division by zero is missing too.
 */

/** A parsed expression. */
export type Expr =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'metric'; readonly id: string }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'negate'; readonly operand: Expr }
  | { readonly kind: 'if'; readonly condition: Expr; readonly whenTrue: Expr; readonly whenFalse: Expr }
  | { readonly kind: 'fill'; readonly series: Expr; readonly value: number };

type BinaryOp = '+' | '-' | '*' | '/' | '>' | '<' | '>=' | '<=' | '==' | '!=';

/** The functions {@link parseExpression} accepts. */
export const SUPPORTED_FUNCTIONS = ['IF', 'FILL'] as const;

/** An expression outside the supported subset. */
export class MetricMathError extends Error {
  override readonly name = 'MetricMathError';
}

type Token = { type: 'num'; value: number } | { type: 'id'; value: string } | { type: 'op'; value: string };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/(),<>]))/y;
  let i = 0;
  while (i < text.length) {
    if (/^\s*$/.test(text.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new MetricMathError(`unexpected "${text.slice(i).trim()[0]}" at ${i} in "${text}"`);
    if (m[1] !== undefined) out.push({ type: 'num', value: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ type: 'id', value: m[2] });
    else out.push({ type: 'op', value: m[3] as string });
    i = re.lastIndex;
  }
  return out;
}

/**
 * Parses `text`; `ids` are the metric ids the alarm defines (any other identifier is refused).
 * Throws {@link MetricMathError} naming what is not supported.
 */
export function parseExpression(text: string, ids: readonly string[]): Expr {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const isOp = (v: string) => peek()?.type === 'op' && peek()?.value === v;
  const expect = (v: string) => {
    if (!isOp(v)) throw new MetricMathError(`expected "${v}" in "${text}"`);
    pos++;
  };
  const comparison = (): Expr => {
    let left = additive();
    for (;;) {
      const t = peek();
      if (t?.type === 'op' && ['>', '<', '>=', '<=', '==', '!='].includes(t.value)) {
        pos++;
        left = { kind: 'binary', op: t.value as BinaryOp, left, right: additive() };
      } else return left;
    }
  };
  const additive = (): Expr => {
    let left = multiplicative();
    for (;;) {
      const t = peek();
      if (t?.type === 'op' && (t.value === '+' || t.value === '-')) {
        pos++;
        left = { kind: 'binary', op: t.value, left, right: multiplicative() };
      } else return left;
    }
  };
  const multiplicative = (): Expr => {
    let left = unary();
    for (;;) {
      const t = peek();
      if (t?.type === 'op' && (t.value === '*' || t.value === '/')) {
        pos++;
        left = { kind: 'binary', op: t.value, left, right: unary() };
      } else return left;
    }
  };
  const unary = (): Expr => {
    if (isOp('-')) {
      pos++;
      return { kind: 'negate', operand: unary() };
    }
    return primary();
  };
  const primary = (): Expr => {
    const t = peek();
    if (!t) throw new MetricMathError(`"${text}" ends too early`);
    pos++;
    if (t.type === 'num') return { kind: 'number', value: t.value };
    if (t.type === 'op') {
      if (t.value !== '(') throw new MetricMathError(`unexpected "${t.value}" in "${text}"`);
      const inner = comparison();
      expect(')');
      return inner;
    }
    if (isOp('(')) {
      pos++;
      const name = t.value.toUpperCase();
      const args: Expr[] = [];
      if (!isOp(')')) {
        args.push(comparison());
        while (isOp(',')) {
          pos++;
          args.push(comparison());
        }
      }
      expect(')');
      if (name === 'IF' && args.length === 3) {
        return { kind: 'if', condition: args[0]!, whenTrue: args[1]!, whenFalse: args[2]! };
      }
      if (name === 'FILL' && args.length === 2 && args[1]!.kind === 'number') {
        return { kind: 'fill', series: args[0]!, value: args[1]!.value };
      }
      throw new MetricMathError(
        `${t.value}(${args.length} arguments) in "${text}" is not supported locally; supported: IF(condition, a, b), FILL(series, number)`,
      );
    }
    if (!ids.includes(t.value)) {
      throw new MetricMathError(
        `"${t.value}" in "${text}" is not a metric id of the alarm (ids: ${ids.join(', ') || 'none'})`,
      );
    }
    return { kind: 'metric', id: t.value };
  };
  const expr = comparison();
  if (pos < tokens.length) {
    const t = tokens[pos]!;
    throw new MetricMathError(`unexpected "${t.value}" in "${text}"`);
  }
  return expr;
}

/** The metric ids an expression reads. */
export function metricIds(expr: Expr): string[] {
  switch (expr.kind) {
    case 'number':
      return [];
    case 'metric':
      return [expr.id];
    case 'binary':
      return [...metricIds(expr.left), ...metricIds(expr.right)];
    case 'negate':
      return metricIds(expr.operand);
    case 'if':
      return [...metricIds(expr.condition), ...metricIds(expr.whenTrue), ...metricIds(expr.whenFalse)];
    case 'fill':
      return metricIds(expr.series);
  }
}

/** The expression's value for one period, given each metric's value in it (null: no datapoint). */
export function evaluateExpression(expr: Expr, value: (id: string) => number | null): number | null {
  const ev = (e: Expr): number | null => {
    switch (e.kind) {
      case 'number':
        return e.value;
      case 'metric':
        return value(e.id);
      case 'negate': {
        const v = ev(e.operand);
        return v === null ? null : -v;
      }
      case 'fill':
        return ev(e.series) ?? e.value;
      case 'if': {
        const c = ev(e.condition);
        if (c === null) return null;
        return c !== 0 ? ev(e.whenTrue) : ev(e.whenFalse);
      }
      case 'binary': {
        const a = ev(e.left);
        const b = ev(e.right);
        if (a === null || b === null) return null;
        switch (e.op) {
          case '+':
            return a + b;
          case '-':
            return a - b;
          case '*':
            return a * b;
          case '/':
            return b === 0 ? null : a / b;
          case '>':
            return a > b ? 1 : 0;
          case '<':
            return a < b ? 1 : 0;
          case '>=':
            return a >= b ? 1 : 0;
          case '<=':
            return a <= b ? 1 : 0;
          case '==':
            return a === b ? 1 : 0;
          case '!=':
            return a !== b ? 1 : 0;
        }
      }
    }
  };
  return ev(expr);
}
