import { isServer, QueryClient } from "@tanstack/react-query";

// TanStack Query's Next.js pattern: a new client per server request, one for the browser's lifetime.
function makeQueryClient() {
  return new QueryClient({ defaultOptions: { queries: { staleTime: 1000 } } });
}

let browserQueryClient: QueryClient | undefined;

export function getQueryClient() {
  if (isServer) return makeQueryClient();
  return (browserQueryClient ??= makeQueryClient());
}
