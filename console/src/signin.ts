/** The sign-in form: a key and its secret, checked with `GET /key` before they are kept. */
import { Api, ApiError, messageOf } from './api';
import { h, setMessage, uid } from './dom';
import type { Caller } from './types';

export function signInForm(root: URL, message: string, onSignedIn: (credentials: string, caller: Caller) => void): HTMLElement {
  const ids = { heading: uid('signin-heading'), key: uid('key'), secret: uid('secret') };
  const key = h('input', {
    id: ids.key,
    name: 'key',
    type: 'text',
    autocomplete: 'username',
    spellcheck: 'false',
    autocapitalize: 'off',
    required: true,
  });
  const secret = h('input', { id: ids.secret, name: 'secret', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const alert = h('div', { role: 'alert', class: 'alert', hidden: true });
  const status = h('div', { role: 'status', class: 'status' });
  const form = h(
    'form',
    { class: 'signin-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: ids.key }, 'Key'), key),
    h('div', { class: 'field' }, h('label', { for: ids.secret }, 'Secret'), secret),
    h('div', { class: 'actions' }, button),
    alert,
    status,
  );
  setMessage(alert, message);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const k = key.value.trim();
    const s = secret.value;
    if (k === '' || s === '') {
      setMessage(alert, 'Enter a key and its secret.');
      (k === '' ? key : secret).focus();
      return;
    }
    if (k.includes(':')) {
      setMessage(alert, 'The key was not accepted: a key has no colon.');
      key.focus();
      return;
    }
    const credentials = `${k}:${s}`;
    button.disabled = true;
    setMessage(alert, '');
    setMessage(status, 'Signing in…');
    try {
      const caller = await new Api(root, credentials).get<Caller>('key');
      key.value = '';
      secret.value = '';
      setMessage(status, '');
      onSignedIn(credentials, caller);
    } catch (error) {
      setMessage(status, '');
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        setMessage(alert, 'The key and secret were not accepted.');
        secret.value = '';
        secret.focus();
      } else {
        setMessage(alert, `Cannot sign in: ${messageOf(error)}`);
      }
    } finally {
      button.disabled = false;
    }
  });

  return h('section', { class: 'panel signin', 'aria-labelledby': ids.heading }, h('h2', { id: ids.heading }, 'Sign in'), form);
}
