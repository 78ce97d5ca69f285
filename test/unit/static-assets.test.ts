/**
 * The console's static files as the api-console function serves them: the page and its hashed
 * assets with their types, nothing outside the built folder whatever the name asked for, and a
 * strict Content-Security-Policy on every answer.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ASSET_NAME, CONSOLE_CSP, CONSOLE_SECURITY_HEADERS, findBuiltSite, staticSite } from '../../lambdas/http/static-assets';

function builtSite(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'console-'));
  mkdirSync(path.join(root, 'assets'));
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><script type="module" src="console/assets/index-abc.js"></script>');
  writeFileSync(path.join(root, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(path.join(root, 'assets', 'index-abc.css'), 'body{}');
  writeFileSync(path.join(root, 'assets', 'logo.bin'), 'binary');
  writeFileSync(path.join(root, 'secret.json'), '{"not":"an asset"}');
  return root;
}

describe('staticSite', () => {
  const site = staticSite(builtSite());

  it('serves the page and each asset with its content type', () => {
    expect(site.page()).toEqual({ body: expect.stringContaining('<!doctype html>'), contentType: 'text/html; charset=utf-8' });
    expect(site.asset('index-abc.js')).toEqual({ body: 'console.log(1)', contentType: 'text/javascript; charset=utf-8' });
    expect(site.asset('index-abc.css')?.contentType).toBe('text/css; charset=utf-8');
  });

  it.each([
    ['a name with a separator', '../index.html'],
    ['a parent folder', '..'],
    ['a hidden file', '.env'],
    ['a file beside the assets folder', '../secret.json'],
    ['an encoded separator left encoded', '..%2Fsecret.json'],
    ['a missing file', 'index-zzz.js'],
    ['a type the gateway would mangle (binary)', 'logo.bin'],
    ['an empty name', ''],
  ])('answers nothing for %s', (_what, name) => {
    expect(site.asset(name)).toBeUndefined();
  });

  it('answers nothing at all when the console was never built', () => {
    const unbuilt = staticSite(findBuiltSite([path.join(tmpdir(), 'no-such-console')]));
    expect(unbuilt.root).toBeUndefined();
    expect(unbuilt.page()).toBeUndefined();
  });
});

describe('ASSET_NAME', () => {
  it('takes the names Vite writes and nothing with a path in it', () => {
    expect(['index-B1x2_y3.js', 'chart-Dk9.css', 'index.html'].every((n) => ASSET_NAME.test(n))).toBe(true);
    expect(['a/b.js', 'a\\b.js', '.hidden', '..', 'a b.js'].some((n) => ASSET_NAME.test(n))).toBe(false);
  });
});

describe('CONSOLE_CSP', () => {
  it('allows only same-origin scripts, styles and connections, and nothing inline', () => {
    expect(CONSOLE_SECURITY_HEADERS['Content-Security-Policy']).toBe(CONSOLE_CSP);
    const directives = Object.fromEntries(CONSOLE_CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(directives).toMatchObject({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'connect-src': ["'self'"],
      'frame-ancestors': ["'none'"],
    });
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });
});
