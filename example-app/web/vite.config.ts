import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app with hot reload and forwards everything else to a running
// `udagram serve` (UDAGRAM_URL, default http://127.0.0.1:3000): config.json, the API, the
// development issuer and the WebSocket.
const server = process.env.UDAGRAM_URL ?? 'http://127.0.0.1:3000';
const proxied = ['/config.json', '/groups', '/images', '/uploads', '/files', '/dev', '/.well-known', '/health'];

export default defineConfig({
  plugins: [react()],
  build: {
    target: 'es2022',
    // The server embeds dist/ and CI checks it is up to date: no source maps, stable names.
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      ...Object.fromEntries(
        proxied.map((path) => [
          path,
          {
            target: server,
            // A page navigation to one of the app's own routes (/groups/ID) stays with Vite.
            bypass: (req: { headers: { accept?: string } }) =>
              req.headers.accept?.includes('text/html') && !path.startsWith('/dev') ? '/index.html' : undefined,
          },
        ]),
      ),
      '/ws': { target: server.replace(/^http/, 'ws'), ws: true },
    },
  },
});
