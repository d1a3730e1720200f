import { errorResponse, notFound } from "@/lib/errors";

// Any other /api path – 404 in the API's error envelope rather than the HTML not-found page
const answer = async () => errorResponse(notFound("No such API endpoint"));

export const GET = answer;
export const POST = answer;
export const PUT = answer;
export const PATCH = answer;
export const DELETE = answer;
