"use client";

import { Button } from "@/components/ui/button";

export default function EntriesError({ reset }: { error: Error; reset: () => void }) {
  return (
    <main className="mx-auto max-w-5xl space-y-4 px-4 py-12">
      <h1 className="text-xl font-semibold">Something went wrong on this page.</h1>
      <Button onClick={reset}>Try again</Button>
    </main>
  );
}
