// Next.js configuration: nothing special is needed for the Flags SDK, Auth.js or the CI routes.
/** @type {import('next').NextConfig} */
const nextConfig = {
  // The CI-in-preview function (api/ci-in-preview.rs) is built by Vercel's Rust builder, not Next.
  poweredByHeader: false,
};

export default nextConfig;
