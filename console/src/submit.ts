/**
 * The Submit section: origin URLs or CSV (typed, chosen as a file, or dropped on the section),
 * parsed with the CLI's `parseMembers`, posted as a hydra collection to the main or priority queue.
 */
import { CliError } from '../../cli/src/errors';
import { parseMembers } from '../../cli/src/input';
import { ApiError, describeProblem, isAbort, messageOf } from './api';
import type { Context } from './context';
import { h, plural, setMessage, uid } from './dom';
import type { Batch } from './types';

/** How many of a 422's member problems are listed. */
const SHOWN_PROBLEMS = 5;

export class SubmitView {
  readonly section: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly text: HTMLTextAreaElement;
  private readonly file: HTMLInputElement;
  private readonly space: HTMLInputElement;
  private readonly priority: HTMLInputElement;
  private readonly button: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly alert: HTMLElement;
  /**
   * The Idempotency-Key of the last request that got no answer saying it was refused: sending the
   * same images again after a lost answer or a 5xx gets the batch it created (200), not a second.
   */
  private attempt: { request: string; key: string } | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly onSubmitted: (batch: Batch) => void,
  ) {
    const ids = {
      heading: uid('submit-heading'),
      text: uid('origins'),
      file: uid('csv-file'),
      space: uid('space'),
      hint: uid('origins-hint'),
    };
    const mainId = uid('queue-main');
    const priorityId = uid('queue-priority');
    this.text = h('textarea', {
      id: ids.text,
      name: 'origins',
      rows: 8,
      spellcheck: 'false',
      autocomplete: 'off',
      'aria-describedby': ids.hint,
      placeholder: 'https://example.org/images/a.jpg',
    });
    this.file = h('input', { id: ids.file, name: 'file', type: 'file', accept: '.csv,.txt,.json,text/csv,text/plain,application/json' });
    this.space = h('input', {
      id: ids.space,
      name: 'space',
      type: 'number',
      min: 0,
      step: 1,
      value: 1,
      required: true,
      inputmode: 'numeric',
    });
    const main = h('input', { id: mainId, name: 'queue', type: 'radio', value: 'main', checked: true });
    this.priority = h('input', { id: priorityId, name: 'queue', type: 'radio', value: 'priority' });
    this.button = h('button', { type: 'submit' }, 'Submit batch');
    this.status = h('div', { role: 'status', class: 'status' });
    this.alert = h('div', { role: 'alert', class: 'alert', hidden: true });

    this.form = h(
      'form',
      { class: 'submit-form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: ids.text }, 'Origin URLs or CSV'),
        h(
          'p',
          { id: ids.hint, class: 'hint' },
          'One URL per line, CSV text with an origin header, or a JSON collection. You can also drop a file here.',
        ),
        this.text,
      ),
      h('div', { class: 'field' }, h('label', { for: ids.file }, 'CSV file'), this.file),
      h(
        'div',
        { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: ids.space }, 'Space'), this.space),
        h(
          'fieldset',
          { class: 'radios' },
          h('legend', null, 'Queue'),
          h('span', { class: 'radio' }, main, h('label', { for: mainId }, 'Main queue')),
          h('span', { class: 'radio' }, this.priority, h('label', { for: priorityId }, 'Priority queue')),
        ),
      ),
      h('div', { class: 'actions' }, this.button),
    );
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.file.addEventListener('change', () => {
      const file = this.file.files?.[0];
      if (file) void this.readFile(file);
    });

    this.section = h(
      'section',
      { class: 'panel submit', 'aria-labelledby': ids.heading },
      h('h2', { id: ids.heading }, 'Submit'),
      this.form,
      this.status,
      this.alert,
    );
    this.section.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      this.section.classList.add('drop-target');
    });
    this.section.addEventListener('dragleave', (event) => {
      if (event.relatedTarget instanceof Node && this.section.contains(event.relatedTarget)) return;
      this.section.classList.remove('drop-target');
    });
    this.section.addEventListener('drop', (event) => {
      this.section.classList.remove('drop-target');
      const file = event.dataTransfer?.files[0];
      if (!file) return;
      event.preventDefault();
      void this.readFile(file);
    });
  }

  private async readFile(file: File): Promise<void> {
    try {
      this.text.value = await file.text();
      setMessage(this.alert, '');
      const lines = this.text.value.split(/\r?\n/).filter((line) => line.trim() !== '').length;
      setMessage(this.status, `Read ${file.name}: ${plural(lines, 'line')}`);
    } catch (error) {
      setMessage(this.alert, `Cannot read ${file.name}: ${messageOf(error)}`);
    }
  }

  private async submit(): Promise<void> {
    setMessage(this.alert, '');
    setMessage(this.status, '');
    const spaceText = this.space.value.trim();
    if (!/^\d+$/.test(spaceText)) {
      setMessage(this.alert, 'Space must be a whole number (0 or more).');
      this.space.focus();
      return;
    }
    let members: Record<string, unknown>[];
    try {
      members = parseMembers(this.text.value, Number(spaceText)).members;
    } catch (error) {
      setMessage(this.alert, error instanceof CliError ? error.message : messageOf(error));
      this.text.focus();
      return;
    }
    const { api, customer, signal } = this.ctx;
    const path = this.priority.checked ? `customers/${customer}/queue/priority` : `customers/${customer}/queue`;
    this.button.disabled = true;
    setMessage(this.status, `Submitting ${plural(members.length, 'image')}…`);
    const collection = { '@type': 'Collection', member: members };
    const request = JSON.stringify([path, collection]);
    if (this.attempt?.request !== request) this.attempt = { request, key: crypto.randomUUID() };
    try {
      const { body } = await api.request<Batch>('POST', path, {
        body: collection,
        signal,
        headers: { 'Idempotency-Key': this.attempt.key },
      });
      this.attempt = undefined;
      setMessage(this.status, `Batch ${body.id} submitted with ${body.count} images`);
      this.text.value = '';
      this.file.value = '';
      this.onSubmitted(body);
    } catch (error) {
      if (isAbort(error) || signal.aborted) return;
      setMessage(this.status, '');
      if (error instanceof ApiError && error.status === 401) return;
      const problems = error instanceof ApiError ? error.problems : [];
      const shown = problems.slice(0, SHOWN_PROBLEMS).map(describeProblem);
      if (problems.length > SHOWN_PROBLEMS) shown.push(`and ${problems.length - SHOWN_PROBLEMS} more`);
      setMessage(this.alert, [messageOf(error), ...shown].join('\n'));
    } finally {
      this.button.disabled = false;
    }
  }
}
