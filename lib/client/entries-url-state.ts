"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { statusSchema } from "@/lib/validation";

/**
 * The view of /entries — status filter, title search, page — kept in the URL, so a view can be
 * shared and survives a reload. Anything unreadable in the URL reads as "not set".
 */
export function useEntriesUrlState() {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const page = Math.max(1, Number.parseInt(searchParams.get("page") ?? "1", 10) || 1);
  const status = statusSchema.safeParse(searchParams.get("status")).data;
  const q = searchParams.get("q") ?? "";

  /** This page's URL with some parameters changed (null removes one). */
  const urlWith = (changes: Record<string, string | null>) => {
    const params = new URLSearchParams(searchParams);
    for (const [key, value] of Object.entries(changes)) {
      if (value) params.set(key, value);
      else params.delete(key);
    }
    const qs = params.toString();
    return qs ? `${pathname}?${qs}` : pathname;
  };
  const replaceWith = (changes: Record<string, string | null>) => router.replace(urlWith(changes), { scroll: false });

  return { page, status, q, urlWith, replaceWith };
}
