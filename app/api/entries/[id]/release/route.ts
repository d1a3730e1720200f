import { releaseAbandonedLock } from "@/lib/server/entries/operations";
import { entryOperation, methodNotAllowed } from "@/lib/server/http";

// POST /api/entries/:id/release – free the lock of a holder that is gone (409 while it is alive)
export const POST = entryOperation(releaseAbandonedLock, { resumes: true });

const notAllowed = methodNotAllowed(["POST"]);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
