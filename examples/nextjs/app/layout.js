// The root layout: one plain page, no styling framework, so the example stays the pattern.
export const metadata = {
  title: 'ci-in-preview Next.js example',
  description: 'A preview with the Flags SDK and Auth.js, tested with state from ci-in-preview',
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui, sans-serif', margin: '2rem', maxWidth: '48rem' }}>
        {children}
      </body>
    </html>
  );
}
