"use client";

import { useId, useRef, useState } from "react";
import { Loader2, Plus } from "lucide-react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
  DialogTrigger,
} from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { ApiRequestError, newIdempotencyKey } from "@/lib/client/api-fetch";
import { useCreateEntry } from "@/lib/client/entry-queries";
import { TITLE_MAX, titleSchema } from "@/lib/validation";

export interface CreateEntryDialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
}

/** "Create Entry": a title field checked with the server's own schema, then POST /api/entries. */
export function CreateEntryDialog({ open, onOpenChange }: CreateEntryDialogProps) {
  const [title, setTitle] = useState("");
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [touched, setTouched] = useState(false);
  const createEntry = useCreateEntry();
  // One Idempotency-Key per submission: kept while the same title is sent again (the first
  // attempt may have created it with the answer lost), new for a new title.
  const submission = useRef<{ title: string; key: string } | null>(null);
  const errorId = useId();
  const inputId = useId();

  const validate = (value: string) => {
    const result = titleSchema.safeParse(value);
    return result.success ? null : (result.error.issues[0]?.message ?? "Invalid title");
  };

  const reset = () => {
    setTitle("");
    setFieldError(null);
    setFormError(null);
    setTouched(false);
    submission.current = null;
    createEntry.reset();
  };

  const onSubmit = (event: React.FormEvent) => {
    event.preventDefault();
    setTouched(true);
    const problem = validate(title);
    setFieldError(problem);
    setFormError(null);
    if (problem || createEntry.isPending) return;
    const trimmed = title.trim();
    if (submission.current?.title !== trimmed) submission.current = { title: trimmed, key: newIdempotencyKey() };
    createEntry.mutate(
      { title: trimmed, key: submission.current.key },
      {
        onSuccess: (entry) => {
          toast.success("Entry created", { description: entry.title });
          onOpenChange(false);
          reset();
        },
        onError: (error) => {
          if (error instanceof ApiRequestError && error.code === "validation_error") {
            setFieldError(error.details?.[0]?.message ?? error.message);
          } else {
            setFormError(error.message);
          }
        },
      },
    );
  };

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        onOpenChange(next);
        if (!next) reset();
      }}
    >
      <DialogTrigger asChild>
        <Button>
          <Plus /> Create Entry
        </Button>
      </DialogTrigger>
      <DialogContent>
        <form onSubmit={onSubmit} noValidate className="grid gap-4">
          <DialogHeader>
            <DialogTitle>Create entry</DialogTitle>
            <DialogDescription>The worker starts on it right away: Stage 1, Stage 2, then Completed.</DialogDescription>
          </DialogHeader>
          <div className="grid gap-2">
            <Label htmlFor={inputId}>Title</Label>
            <Input
              id={inputId}
              name="title"
              value={title}
              autoFocus
              autoComplete="off"
              placeholder="My workflow entry"
              maxLength={TITLE_MAX + 50}
              aria-invalid={fieldError ? true : undefined}
              aria-describedby={fieldError ? errorId : undefined}
              onChange={(e) => {
                setTitle(e.target.value);
                if (touched) setFieldError(validate(e.target.value));
              }}
            />
            {fieldError && (
              <p id={errorId} role="alert" className="text-sm text-destructive">
                {fieldError}
              </p>
            )}
          </div>
          {formError && (
            <p role="alert" className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
              Could not create the entry: {formError}
            </p>
          )}
          <DialogFooter>
            <Button type="submit" disabled={createEntry.isPending}>
              {createEntry.isPending && <Loader2 className="animate-spin" aria-hidden />}
              {createEntry.isPending ? "Creating…" : "Create"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
