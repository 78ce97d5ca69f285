/**
 * The browser console (console/, built by Vite): `GET /console` answers the page and
 * `GET /console/assets/{asset}` its scripts and styles. Public, as they hold no data: the page
 * asks for a key and calls the API with it. On Lambda the build is copied into the bundle
 * (`console/` beside the handler); locally it is read from the source tree's `console/dist`.
 */
import * as path from 'node:path';
import { type ApiResponse, apiHandler } from '../http/api';
import { HttpError } from '../http/problem';
import { CONSOLE_SECURITY_HEADERS, findBuiltSite, type StaticFile, type StaticSite, staticSite } from '../http/static-assets';

const NOT_BUILT = 'The console is not built: run `npm run build:console` (npm start and npm test build it).';
let site: StaticSite | undefined;

function builtSite(): StaticSite {
  site ??= staticSite(findBuiltSite([path.join(__dirname, 'console'), path.join(__dirname, '..', '..', 'console', 'dist')]));
  if (!site.root) {
    site = undefined;
    throw new HttpError(503, NOT_BUILT);
  }
  return site;
}

const served = (file: StaticFile, cacheControl: string): ApiResponse => ({
  status: 200,
  text: file.body,
  headers: { 'Content-Type': file.contentType, 'Cache-Control': cacheControl, ...CONSOLE_SECURITY_HEADERS },
});

export const handler = apiHandler('api-console', {
  // Revalidated on every visit: a new build names new assets, and the page is what points at them.
  'GET /console': async () => {
    const page = builtSite().page();
    if (!page) throw new HttpError(503, NOT_BUILT);
    return served(page, 'no-cache');
  },
  // Vite puts a hash of the content in each name, so an asset never changes under its name.
  'GET /console/assets/{asset}': async (request) => {
    const name = request.pathParameters.asset ?? '';
    const asset = builtSite().asset(name);
    if (!asset) throw new HttpError(404, `The console has no asset '${name.slice(0, 200)}'.`);
    return served(asset, 'public, max-age=31536000, immutable');
  },
});
