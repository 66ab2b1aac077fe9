import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Api } from './api';
import { App } from './App';
import { Auth } from './auth';
import { loadConfig } from './config';
import { Live } from './live';
import './styles.css';

async function start(root: HTMLElement) {
  const config = await loadConfig();
  const auth = new Auth(config.oidc);
  await auth.restore();
  const services = { config, auth, api: new Api(config.apiUrl, auth), live: new Live(config.webSocketUrl, auth) };
  if (auth.current) services.live.start();
  createRoot(root).render(
    <StrictMode>
      <App services={services} />
    </StrictMode>,
  );
}

const root = document.getElementById('root');
if (root) {
  start(root).catch((error: unknown) => {
    // No React yet: a plain message, built without innerHTML.
    const box = document.createElement('main');
    box.className = 'fatal';
    const heading = document.createElement('h1');
    heading.textContent = 'Udagram cannot start';
    const text = document.createElement('p');
    text.textContent = error instanceof Error ? error.message : String(error);
    box.append(heading, text);
    root.replaceChildren(box);
  });
}
