import { retryEntry } from "@/lib/server/entries/operations";
import { entryOperation, methodNotAllowed } from "@/lib/server/http";

// POST /api/entries/:id/retry – a FAILED entry goes back to the queue (409 for any other status)
export const POST = entryOperation(retryEntry, { resumes: true });

const notAllowed = methodNotAllowed(["POST"]);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
