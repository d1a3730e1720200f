import type { Metadata } from "next";
import "./globals.css";

export const metadata: Metadata = {
  title: "Async Workflow",
  description: "Entries advanced through workflow stages by a background worker, live.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
