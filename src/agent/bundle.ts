// The agent as one JavaScript file for the host: the compiled entry point with acme-client and every
// other dependency bundled by esbuild, for Node.js 18 (Debian 12's) and later. Made on the operator's
// machine at apply, once per process; esbuild's output is deterministic, so the host's copy is replaced
// only when mailrig itself changed.
import { fileURLToPath } from 'node:url';

let cached: Promise<string> | undefined;

export function agentBundle(): Promise<string> {
  cached ??= build();
  return cached;
}

async function build(): Promise<string> {
  const { build: esbuild } = await import('esbuild');
  const entry = fileURLToPath(new URL('./main.js', import.meta.url));
  const result = await esbuild({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    minify: true,
    write: false,
    logLevel: 'silent',
    banner: { js: '// mailrig agent: renews the TLS certificate. Installed by mailrig apply; do not edit.' },
  });
  const out = result.outputFiles[0];
  if (out === undefined) throw new Error('esbuild produced no agent bundle');
  return out.text;
}
