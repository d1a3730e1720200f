import { cancelEntry } from "@/lib/server/entries/operations";
import { entryOperation, methodNotAllowed } from "@/lib/server/http";

// POST /api/entries/:id/cancel – stop a non-terminal entry at its next stage boundary (409 if finished)
export const POST = entryOperation(cancelEntry, { resumes: false });

const notAllowed = methodNotAllowed(["POST"]);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
