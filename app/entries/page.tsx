export default function EntriesPage() {
  return <main className="p-8">Entries</main>;
}
