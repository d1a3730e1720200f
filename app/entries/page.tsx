import { Suspense } from "react";
import type { Metadata } from "next";
import { EntriesView } from "@/components/entries-view";

export const metadata: Metadata = { title: "Entries" };

export default function EntriesPage() {
  return (
    <main className="mx-auto w-full max-w-5xl px-4 py-8 sm:px-6 sm:py-12">
      <header className="mb-6 space-y-1">
        <h1 className="text-2xl font-semibold tracking-tight sm:text-3xl">Async Workflow</h1>
        <p className="text-muted-foreground">
          Each entry is moved by a background worker through Stage 1 and Stage 2 to Completed. This page updates live.
        </p>
      </header>
      <Suspense>
        <EntriesView />
      </Suspense>
    </main>
  );
}
