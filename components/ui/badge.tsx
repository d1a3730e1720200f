import * as React from "react";
import { cva, type VariantProps } from "class-variance-authority";
import { cn } from "@/lib/utils";

const badgeVariants = cva(
  "inline-flex w-fit shrink-0 items-center justify-center gap-1 whitespace-nowrap rounded-md border px-2 py-0.5 text-xs font-medium [&>svg]:pointer-events-none [&>svg]:size-3",
  {
    variants: {
      variant: {
        default: "border-transparent bg-primary text-primary-foreground",
        secondary: "border-transparent bg-secondary text-secondary-foreground",
        outline: "text-foreground",
        // One per workflow status: the text says the status too, colour is only a second cue.
        created: "border-slate-300 bg-slate-100 text-slate-700",
        stage1: "border-sky-300 bg-sky-50 text-sky-800",
        stage2: "border-violet-300 bg-violet-50 text-violet-800",
        completed: "border-emerald-300 bg-emerald-50 text-emerald-800",
        failed: "border-red-300 bg-red-50 text-red-800",
      },
    },
    defaultVariants: { variant: "default" },
  },
);

function Badge({ className, variant, ...props }: React.ComponentProps<"span"> & VariantProps<typeof badgeVariants>) {
  return <span data-slot="badge" className={cn(badgeVariants({ variant }), className)} {...props} />;
}

export { Badge, badgeVariants };
