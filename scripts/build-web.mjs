// Bundles the web app (web/) with esbuild into dist/web/: hashed, minified assets under
// assets/ and one HTML page per entry naming them. The gateway serves the folder at /app
// (src/http/static.ts). Nothing is fetched at run time: every byte comes from here.
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Entries and their pages: the app itself and the softphone example. */
const PAGES = [
  { entry: 'web/main.tsx', page: 'index.html', title: 'minutegate' },
  { entry: 'web/phone/main.tsx', page: 'phone.html', title: 'minutegate softphone' },
];

export async function buildWeb(outDir = join(root, 'dist', 'web')) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'assets'), { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(PAGES.map((p) => [p.page.replace('.html', ''), p.entry])),
    bundle: true,
    splitting: true,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // @minutegate/client's browser entry, from its source (its package.json "exports").
    conditions: ['minutegate-source', 'browser'],
    logLevel: 'warning',
    legalComments: 'none',
  });
  for (const p of PAGES) {
    const [js, out] = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === p.entry) ?? [];
    if (!js || !out) throw new Error(`esbuild produced no output for ${p.entry}`);
    const css = out.cssBundle ? basename(out.cssBundle) : null;
    await writeFile(join(outDir, p.page), page(p.title, basename(js), css));
  }
  await precompress(join(outDir, 'assets'));
  return outDir;
}

/** Brotli and gzip copies of the scripts and styles, made once here so the gateway sends
 *  a fraction of their size without compressing on every request. */
async function precompress(dir) {
  const br = promisify(brotliCompress);
  const gz = promisify(gzip);
  for (const name of await readdir(dir)) {
    if (!/\.(js|css)$/.test(name)) continue;
    const body = await readFile(join(dir, name));
    await writeFile(join(dir, `${name}.br`), await br(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    await writeFile(join(dir, `${name}.gz`), await gz(body, { level: 9 }));
  }
}

function page(title, js, css) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light">
<title>${title}</title>
${css ? `<link rel="stylesheet" href="/app/assets/${css}">\n` : ''}<script type="module" src="/app/assets/${js}"></script>
</head>
<body><div id="root"></div></body>
</html>
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = await buildWeb(process.argv[2]);
  process.stdout.write(`web app built into ${dir}\n`);
}
