import Link from "next/link";

export default function NotFound() {
  return (
    <main className="mx-auto max-w-5xl space-y-2 px-4 py-12">
      <h1 className="text-xl font-semibold">Page not found</h1>
      <Link className="text-primary underline" href="/entries">
        Go to the entries
      </Link>
    </main>
  );
}
