import { notFound } from "@/lib/server/api-error";
import { errorResponse } from "@/lib/server/http";

// Any other /api path – 404 in the API's error envelope rather than the HTML not-found page
const noSuchEndpoint = async () => errorResponse(notFound("No such API endpoint"));
export { noSuchEndpoint as GET, noSuchEndpoint as POST, noSuchEndpoint as PUT, noSuchEndpoint as PATCH, noSuchEndpoint as DELETE };
