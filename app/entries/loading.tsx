export default function Loading() {
  return <main className="mx-auto max-w-5xl px-4 py-12 text-muted-foreground">Loading…</main>;
}
