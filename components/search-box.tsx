"use client";

import { useEffect, useRef, useState } from "react";
import { Search } from "lucide-react";
import { Input } from "@/components/ui/input";
import { TITLE_MAX } from "@/lib/validation";

const SEARCH_DEBOUNCE_MS = 300;

/** Searches titles as you type, once typing pauses. */
export function SearchBox({ initial, onSearch }: { initial: string; onSearch: (text: string) => void }) {
  const [text, setText] = useState(initial);
  // The latest callback, without restarting the debounce each time the parent re-renders.
  const onSearchRef = useRef(onSearch);
  onSearchRef.current = onSearch;
  useEffect(() => {
    if (text.trim() === initial) return;
    const timer = setTimeout(() => onSearchRef.current(text.trim()), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, initial]);
  return (
    <div className="relative w-full sm:w-72">
      <Search className="pointer-events-none absolute left-2.5 top-2.5 size-4 text-muted-foreground" aria-hidden />
      <Input
        type="search"
        aria-label="Search titles"
        placeholder="Search titles…"
        className="pl-8"
        value={text}
        maxLength={TITLE_MAX}
        onChange={(e) => setText(e.target.value)}
      />
    </div>
  );
}
