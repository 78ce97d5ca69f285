/**
 * The console's entry point: sign-in, the customer choice (admin keys), and the views of one
 * customer's queue (Queue or Batch, Submit, Load). Everything is built with DOM calls (dom.ts).
 */
import { Api, ApiError, apiRootOf, messageOf } from './api';
import { BatchView } from './batch';
import { type Context, can } from './context';
import { h, replaceChildren, setMessage, uid } from './dom';
import { LoadView } from './load';
import { QueueView } from './queue';
import { clearSession, loadCredentials, loadCustomer, saveCredentials, saveCustomer } from './session';
import { signInForm } from './signin';
import { SubmitView } from './submit';
import type { Batch, Caller } from './types';

const SESSION_ENDED = 'Your key and secret were not accepted any more. Sign in again.';

interface Workspace {
  ctx: Context;
  controller: AbortController;
  element: HTMLElement;
  primary: HTMLElement;
  queue: QueueView;
  batch?: BatchView;
  submit?: SubmitView;
  load: LoadView;
}

class App {
  private api: Api | undefined;
  private caller: Caller | undefined;
  private workspace: Workspace | undefined;
  private customerAlert: HTMLElement | undefined;

  constructor(
    private readonly root: URL,
    private readonly app: HTMLElement,
    private readonly sessionBar: HTMLElement,
  ) {}

  async start(): Promise<void> {
    const credentials = loadCredentials();
    if (!credentials) {
      this.showSignIn('');
      return;
    }
    replaceChildren(this.app, h('p', { class: 'muted', role: 'status' }, 'Signing in…'));
    try {
      const caller = await new Api(this.root, credentials).get<Caller>('key');
      this.signedIn(credentials, caller);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        clearSession();
        this.showSignIn('The saved key and secret were not accepted. Sign in again.');
      } else {
        this.showSignIn(`Cannot reach the API: ${messageOf(error)}`);
      }
    }
  }

  private showSignIn(message: string): void {
    replaceChildren(this.sessionBar);
    const form = signInForm(this.root, message, (credentials, caller) => this.signedIn(credentials, caller));
    replaceChildren(this.app, h('div', { class: 'signin-wrap' }, form));
    if (!message) form.querySelector('input')?.focus();
  }

  private signedIn(credentials: string, caller: Caller): void {
    saveCredentials(credentials);
    this.caller = caller;
    this.api = new Api(this.root, credentials, () => this.signOut(SESSION_ENDED));
    const signOut = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
    signOut.addEventListener('click', () => this.signOut(''));
    const who = caller.admin ? 'admin key' : caller.customer !== undefined ? `customer ${caller.customer}` : 'customer key';
    replaceChildren(
      this.sessionBar,
      h('p', { class: 'who' }, 'Signed in as ', h('strong', { class: 'key-name' }, caller.key), ` (${who})`),
      signOut,
    );
    replaceChildren(this.app);
    if (caller.admin) {
      this.app.appendChild(this.customerForm());
      const customer = loadCustomer();
      if (customer !== undefined) this.openCustomer(customer);
      else this.app.querySelector<HTMLInputElement>('input')?.focus();
    } else if (caller.customer !== undefined) {
      this.openCustomer(caller.customer);
    } else {
      this.app.appendChild(h('div', { role: 'alert', class: 'alert' }, 'This key belongs to no customer.'));
    }
  }

  private signOut(message: string): void {
    if (!this.api) return;
    this.closeWorkspace();
    this.api = undefined;
    this.caller = undefined;
    clearSession();
    this.showSignIn(message);
  }

  /** An admin's customer choice; it stays on the page to switch customer. */
  private customerForm(): HTMLElement {
    const inputId = uid('customer');
    const input = h('input', { id: inputId, name: 'customer', type: 'number', min: 0, step: 1, required: true, inputmode: 'numeric' });
    const current = loadCustomer();
    if (current !== undefined) input.value = String(current);
    this.customerAlert = h('div', { role: 'alert', class: 'alert', hidden: true });
    const form = h(
      'form',
      { class: 'customer-form panel', novalidate: true },
      h('div', { class: 'field inline' }, h('label', { for: inputId }, 'Customer'), input, h('button', { type: 'submit' }, 'Open queue')),
      this.customerAlert,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!/^\d{1,12}$/.test(value)) {
        setMessage(this.customerAlert!, 'Enter a customer number (0 or more).');
        input.focus();
        return;
      }
      setMessage(this.customerAlert!, '');
      const customer = Number(value);
      saveCustomer(customer);
      this.openCustomer(customer);
    });
    return form;
  }

  private openCustomer(customer: number): void {
    if (!this.api || !this.caller) return;
    this.closeWorkspace();
    const controller = new AbortController();
    const ctx: Context = { api: this.api, caller: this.caller, customer, signal: controller.signal };
    const queue = new QueueView(ctx, (batch) => this.openBatch(batch));
    const primary = h('div', { class: 'primary' }, queue.section);
    const load = new LoadView(ctx);
    const submit = can(ctx, 'submit') ? new SubmitView(ctx, (batch) => this.submitted(batch)) : undefined;
    const secondary = h('div', { class: submit ? 'secondary-grid' : 'secondary-grid single' }, submit?.section, load.section);
    const element = h('div', { class: 'workspace', 'data-customer': customer }, primary, secondary);
    this.workspace = { ctx, controller, element, primary, queue, load, ...(submit ? { submit } : {}) };
    this.app.appendChild(element);
    void queue.init();
    load.init();
  }

  private closeWorkspace(): void {
    const ws = this.workspace;
    if (!ws) return;
    ws.controller.abort();
    ws.batch?.dispose();
    ws.queue.dispose();
    ws.load.dispose();
    ws.element.remove();
    this.workspace = undefined;
  }

  private openBatch(batch: Batch): void {
    const ws = this.workspace;
    if (!ws) return;
    ws.batch?.dispose();
    ws.batch?.section.remove();
    const view = new BatchView(ws.ctx, batch, () => this.closeBatch());
    ws.batch = view;
    ws.queue.setVisible(false);
    ws.primary.appendChild(view.section);
    view.focus();
    void view.init();
  }

  private closeBatch(): void {
    const ws = this.workspace;
    const view = ws?.batch;
    if (!ws || !view) return;
    view.dispose();
    view.section.remove();
    ws.batch = undefined;
    ws.queue.setVisible(true);
    ws.queue.focusBatch(view.batchId);
  }

  private submitted(batch: Batch): void {
    void this.workspace?.queue.showNewest(batch);
  }
}

const app = document.getElementById('app');
const sessionBar = document.getElementById('session');
if (app && sessionBar) {
  replaceChildren(app);
  void new App(apiRootOf(window.location), app, sessionBar).start();
}
