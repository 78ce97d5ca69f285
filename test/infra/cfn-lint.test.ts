/**
 * The stack's template passes AWS's CloudFormation linter, cfn-lint (Python: `pip install cfn-lint`):
 * no error, and no warning but those ACCEPTED_WARNINGS lists, each with its reason and matching only
 * where the reason holds. cfn-lint checks what CDK does not: property names and values against
 * CloudFormation's resource schemas, references, dependencies.
 *
 * Without cfn-lint on the PATH the suite is skipped with one line on the terminal, except where the
 * `CI` variable is set: there it fails (CI must lint). A mutated copy of the template goes through
 * the same harness in the same cfn-lint run, so the check proves it can fail. Bundling is skipped as
 * in stack.test.ts; cfn-lint finds nothing to object to in the asset placeholders.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ImageQueueStack } from '../../lib/image-queue-stack';
import { requiredTool } from '../support/required-tool';

type Json = Record<string, any>;

/** One finding of `cfn-lint --format json`. */
interface Finding {
  Filename: string;
  Level: 'Error' | 'Warning' | 'Informational';
  Rule: { Id: string };
  Location: { Path: Array<string | number> };
  Message: string;
}

/** Warnings accepted, each only where `matches` says (a new warning of the same rule elsewhere still fails). */
const ACCEPTED_WARNINGS: Array<{ rule: string; reason: string; matches: (finding: Finding, template: Json) => boolean }> = [
  {
    rule: 'W3005',
    reason:
      "aws-cdk-lib's lambda.Function puts its execution role in DependsOn (next to the role's default policy) while also " +
      'reading it with Fn::GetAtt: the DependsOn is redundant and harmless, and made inside CDK, not by this project.',
    matches: (
      {
        Location: {
          Path: [section, id, key],
        },
        Message,
      },
      template,
    ) =>
      section === 'Resources' &&
      key === 'DependsOn' &&
      template.Resources[id as string]?.Type === 'AWS::Lambda::Function' &&
      Message.endsWith(`by a 'GetAtt' at 'Resources/${String(id)}/Properties/Role'`),
  },
];

/** Errors and warnings not accepted, as `rule path: message` lines (a readable diff when one appears). */
function unaccepted(findings: Finding[], template: Json): string[] {
  return findings
    .filter(
      (f) =>
        f.Level === 'Error' || (f.Level === 'Warning' && !ACCEPTED_WARNINGS.some((a) => a.rule === f.Rule.Id && a.matches(f, template))),
    )
    .map((f) => `${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`);
}

/** Runs cfn-lint once on several templates; it exits non-zero whenever it finds something, so the JSON on stdout decides. */
function cfnLint(files: string[]): Promise<Finding[]> {
  return new Promise((resolve, reject) => {
    execFile('cfn-lint', ['--format', 'json', ...files], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout) as Finding[]);
      } catch {
        reject(new Error(`cfn-lint gave no JSON (exit ${String(error?.code)}): ${stderr || stdout}`));
      }
    });
  });
}

const installed = requiredTool('cfn-lint', 'pip install cfn-lint', 'test/infra/cfn-lint.test.ts');

describe('cfn-lint', () => {
  if (!installed) return;
  const dir = mkdtempSync(join(tmpdir(), 'cfn-lint-'));
  const stack = new ImageQueueStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'ImageQueue');
  const template = Template.fromStack(stack).toJSON() as Json;

  // A copy of two real resources with three defects: an invalid value, a misspelt property, and a
  // DependsOn that the alarm's Ref to the topic already implies (a W3005 the accepted list must not
  // cover, since it is not a function's role).
  const idOf = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const topicId = idOf(stack.alarmTopic);
  const [alarmId] = Object.entries(template.Resources as Record<string, Json>).find(
    ([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && JSON.stringify(r.Properties.AlarmActions) === JSON.stringify([{ Ref: topicId }]),
  )!;
  const defective = structuredClone({ Resources: { [topicId]: template.Resources[topicId], [alarmId]: template.Resources[alarmId] } });
  defective.Resources[alarmId].Properties.ComparisonOperator = 'GreaterThanOrEqualToThresholdd';
  defective.Resources[topicId].Properties.TopicNam = defective.Resources[topicId].Properties.TopicName;
  defective.Resources[alarmId].DependsOn = [topicId];

  const files = { template: join(dir, 'ImageQueue.template.json'), defective: join(dir, 'defective.template.json') };
  writeFileSync(files.template, JSON.stringify(template, null, 1));
  writeFileSync(files.defective, JSON.stringify(defective, null, 1));
  let findings: Finding[] = [];
  const of = (file: string) => findings.filter((f) => f.Filename === file);

  beforeAll(async () => {
    findings = await cfnLint([files.template, files.defective]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds no error and no warning beyond the accepted ones in the stack template', () => {
    expect(unaccepted(of(files.template), template)).toEqual([]);
  });

  it('still finds every accepted warning (no stale entry in the list)', () => {
    for (const accepted of ACCEPTED_WARNINGS) {
      expect([accepted.rule, of(files.template).some((f) => f.Rule.Id === accepted.rule && accepted.matches(f, template))]).toEqual([
        accepted.rule,
        true,
      ]);
    }
  });

  it('fails a defective copy: invalid value, unknown property, and a redundant DependsOn that is not on the list', () => {
    const found = unaccepted(of(files.defective), defective);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^E3030 Resources/${alarmId}/Properties/ComparisonOperator: `)),
        expect.stringMatching(new RegExp(`^E3002 Resources/${topicId}/Properties/TopicNam: `)),
        expect.stringMatching(new RegExp(`^W3005 Resources/${alarmId}/DependsOn/0: `)),
      ]),
    );
  });
});
