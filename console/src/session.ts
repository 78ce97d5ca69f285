/**
 * What survives a reload of the tab: the credentials (`key:secret`) and an admin's chosen customer.
 * sessionStorage only: never localStorage, never the URL, never the DOM.
 */

const CREDENTIALS = 'imageQueue.credentials';
const CUSTOMER = 'imageQueue.customer';

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

export function loadCredentials(): string | undefined {
  const value = storage()?.getItem(CREDENTIALS);
  return value?.includes(':') ? value : undefined;
}

export function saveCredentials(credentials: string): void {
  storage()?.setItem(CREDENTIALS, credentials);
}

export function loadCustomer(): number | undefined {
  const value = storage()?.getItem(CUSTOMER);
  if (value === null || value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

export function saveCustomer(customer: number): void {
  storage()?.setItem(CUSTOMER, String(customer));
}

export function clearSession(): void {
  storage()?.removeItem(CREDENTIALS);
  storage()?.removeItem(CUSTOMER);
}
