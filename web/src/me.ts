import { createContext, useContext } from "react";

/**
 * Reads `GET /api/v1/me` of the app shell again (its permissions, the
 * Reset-MFA notice): for screens that changed what it says (MFA set up).
 */
export const ReloadMeContext = createContext<() => void>(() => {});

export function useReloadMe(): () => void {
  return useContext(ReloadMeContext);
}
