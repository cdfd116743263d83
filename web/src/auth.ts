import { useSyncExternalStore } from "react";
import type { AuthState } from "@latchkey/client";
import { client } from "./api";

export function useAuth(): AuthState {
  return useSyncExternalStore((l) => client.subscribe(l), () => client.state);
}

export const ROLE_LABELS: Record<string, string> = {
  administrator: "Administrator",
  manager: "Manager",
  editor: "Editor",
  creator: "Creator",
  lite: "Lite",
  read_only: "Read-only",
};
