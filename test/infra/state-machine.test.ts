import aslValidator from 'asl-validator';
import { EVENT_TASKS, TASK_KEYS } from '../../functions/contract/tasks.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import { stateMachineDoc } from '../../scripts/render-state-machine.js';
import sample from '../../tps.config.js';
import {
  type Asl,
  type CfnTemplate,
  extractAsl,
  functionArnFor,
  functionTasks,
  resourcesOfType,
  synthTemplate,
  taskOfFunction,
} from '../helpers/synth.js';

const services = Object.keys(parseCatalog(sample).services);
let template: CfnTemplate;

beforeAll(() => {
  template = synthTemplate();
});

function validate(asl: Asl) {
  // The validator annotates the definition it checks; give it a copy.
  return aslValidator(structuredClone(asl));
}

describe('ASL of the synthesized state machines', () => {
  test.each(services)('%s: asl-validator accepts it (schema, paths, ARNs, transitions)', (svc) => {
    const result = validate(extractAsl(template, svc));
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  test('the validator is live: a dangling Next is refused', () => {
    const asl = extractAsl(template, 'api');
    const broken = structuredClone(asl);
    broken.States['Validate Canary'].Next = 'No Such State';
    const r = validate(broken);
    expect(r.isValid).toBe(false);
    expect(r.errorsText('\n')).toContain('No Such State');
  });

  test('state names read like the runbook', () => {
    const states = Object.keys(extractAsl(template, 'api').States);
    for (const name of [
      'Validate Input',
      'Record Rollback Plan',
      'Shift 10% To Canary',
      'Canary Validation Window',
      'Validate Canary',
      'Shift 50% To Staging',
      'Validate Staging',
      'Shift 100% To Production',
      'Validate Production',
      'Roll Back',
      'Rolled Back',
      'Released',
    ]) {
      expect(states).toContain(name);
    }
    expect(extractAsl(template, 'api').StartAt).toBe('Validate Input');
  });

  test('phase weights from the catalog name the shift states', () => {
    const catalog = {
      ...sample,
      services: {
        api: { ...sample.services.api!, phases: { canary: { weight: 5 }, staging: { weight: 25 } } },
      },
    };
    const states = Object.keys(extractAsl(synthTemplate({ catalog }), 'api').States);
    expect(states).toContain('Shift 5% To Canary');
    expect(states).toContain('Shift 25% To Staging');
    expect(states).not.toContain('Shift 10% To Canary');
  });

  test('every task invokes the function of the task it names (Resource = placeholder ARN)', () => {
    const asl = extractAsl(template, 'web');
    const used = new Set<string>();
    for (const state of Object.values(asl.States as Record<string, Asl>)) {
      if (state.Type !== 'Task') continue;
      // payloadResponseOnly tasks name the function as the Resource itself; the tasks that wait for
      // a person (`.waitForTaskToken`) use the Lambda integration with the function in Parameters.
      const waits = state.Resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken';
      const fn = (waits ? state.Parameters.FunctionName : state.Resource) as string;
      if (waits) expect(state.Parameters.Payload['taskToken.$']).toBe('$$.Task.Token');
      expect(fn.startsWith(functionArnFor(''))).toBe(true);
      const task = taskOfFunction(template, fn);
      expect(state.Comment).toBe(`task ${task}`);
      used.add(task);
    }
    expect([...used].sort()).toEqual(TASK_KEYS.filter((k) => !EVENT_TASKS.includes(k)).sort());
  });

  test('transient errors are retried and failures roll back', () => {
    const asl = extractAsl(template, 'api');
    const shift = asl.States['Shift 10% To Canary'];
    expect(shift.Retry).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ErrorEquals: expect.arrayContaining([ERROR_NAMES.kubernetesTransient]) }),
      ]),
    );
    expect(shift.Catch).toEqual([
      expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'Roll Back' }),
    ]);
  });
});

describe('synth helper', () => {
  test('extractAsl finds a state machine by logical ID or by service', () => {
    const [first] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
    const byId = extractAsl(template, first!);
    const svc = (template.Resources[first!]!.Properties!.StateMachineName as string).split('-').pop()!;
    expect(extractAsl(template, svc)).toEqual(byId);
    expect(() => extractAsl(template, 'nope')).toThrow(/no state machine "nope"/);
  });

  test('functionTasks maps each function logical ID to its TPS_TASK; taskOfFunction refuses strangers', () => {
    const tasks = functionTasks(template);
    expect(Object.keys(tasks)).toHaveLength(TASK_KEYS.length);
    for (const [id, task] of Object.entries(tasks)) {
      expect(taskOfFunction(template, functionArnFor(id))).toBe(task);
      expect(taskOfFunction(template, `${functionArnFor(id)}:$LATEST`)).toBe(task);
      expect(taskOfFunction(template, id)).toBe(task);
    }
    expect(() => taskOfFunction(template, functionArnFor('Elsewhere'))).toThrow(/not a task function/);
  });
});

describe('docs/state-machine.md', () => {
  test('is what the synthesized ASL of the sample api service renders to (state count, graph, every state)', () => {
    const { current, next } = stateMachineDoc('api');
    expect(current).toBe(next);
  });
});
