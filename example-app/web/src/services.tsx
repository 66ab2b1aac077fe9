/** The tab's services (configuration, sign-in, API, live notices), shared through React context. */
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { Api } from './api';
import type { Account, Auth } from './auth';
import type { AppConfig } from './config';
import type { Live, LiveStatus, Notice } from './live';

/** Everything the pages use. */
export interface Services {
  config: AppConfig;
  auth: Auth;
  api: Api;
  live: Live;
}

const ServicesContext = createContext<Services | null>(null);

/** Provides `services` to the tree. */
export const ServicesProvider = ServicesContext.Provider;

/** The tab's services. */
export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('useServices outside ServicesProvider');
  return services;
}

/** The signed-in account, re-rendering on sign-in and sign-out. */
export function useAccount(): Account | null {
  const { auth } = useServices();
  const [current, setCurrent] = useState(auth.current);
  useEffect(() => {
    setCurrent(auth.current);
    return auth.subscribe(setCurrent);
  }, [auth]);
  return current;
}

/** The live connection's status. */
export function useLiveStatus(): LiveStatus {
  const { live } = useServices();
  return useSyncExternalStore(
    (changed) => live.onStatus(changed),
    () => live.current,
  );
}

/** Calls `listener` (the latest one) with every notice. */
export function useNotices(listener: (notice: Notice) => void): void {
  const { live } = useServices();
  const [latest] = useState(() => ({ current: listener }));
  latest.current = listener;
  useEffect(() => live.onNotice((notice) => latest.current(notice)), [live, latest]);
}
