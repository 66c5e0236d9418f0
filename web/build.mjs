// web/build.mjs — the build behind web/build.sh: src/ + the needed vendor files → dist/.
// No bundler: files are copied as they are; the one rewrite is libsodium's bare import
// ("libsodium-sumo" → a relative path), since browsers resolve no bare specifiers without an
// import map and our CSP forbids an inline one. index.html gets integrity= (sha384) on every module
// (modulepreload) and stylesheet, so a file changed on the server after the build is refused.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const nm = join(here, 'node_modules');
const dist = join(here, process.argv[2] || 'dist');

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to);
}
function write(to, text) {
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, text);
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

// 1. The page's own files.
for (const f of readdirSync(src)) {
  if (f === 'index.html') continue;
  cpSync(join(src, f), join(dist, f), { recursive: true });
}

// 2. libsodium (sumo, ESM). The wrapper imports "libsodium-sumo": point it at the file beside it.
const sodiumDir = join(dist, 'vendor', 'sodium');
const wrapper = readFileSync(join(nm, 'libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-wrappers.mjs'), 'utf8');
const rewritten = wrapper.replace(/from\s*"libsodium-sumo"/g, 'from"./libsodium-sumo.mjs"');
if (rewritten === wrapper || /["']libsodium-sumo["']/.test(rewritten)) throw new Error('build: libsodium import not rewritten');
write(join(sodiumDir, 'libsodium-wrappers.mjs'), rewritten);
copy(join(nm, 'libsodium-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs'), join(sodiumDir, 'libsodium-sumo.mjs'));
copy(join(nm, 'libsodium-wrappers-sumo/LICENSE'), join(sodiumDir, 'LICENSE.txt'));

// 3. NL Design System: component CSS and design tokens (Utrecht theme), Noto Sans (latin subsets).
const nlds = join(dist, 'vendor', 'nlds');
copy(join(nm, '@utrecht/component-library-css/dist/index.css'), join(nlds, 'components.css'));
copy(join(nm, '@utrecht/design-tokens/dist/index.css'), join(nlds, 'tokens.css'));
copy(join(nm, '@utrecht/component-library-css/LICENSE.md'), join(nlds, 'LICENSE-components.txt'));
copy(join(nm, '@utrecht/design-tokens/LICENSE.md'), join(nlds, 'LICENSE-tokens.txt'));
const font = join(nm, '@fontsource-variable/noto-sans');
const faces = [];
// Only the latin subsets (Dutch and English); their @font-face rules are taken from fontsource.
const fontCss = readFileSync(join(font, 'index.css'), 'utf8');
for (const subset of ['latin-ext', 'latin']) {
  const m = new RegExp(`/\\* noto-sans-${subset}-wght-normal \\*/\\n(@font-face \\{[^}]*\\})`).exec(fontCss);
  if (!m) throw new Error(`build: no ${subset} font face in fontsource`);
  const file = `noto-sans-${subset}-wght-normal.woff2`;
  copy(join(font, 'files', file), join(nlds, 'fonts', file));
  faces.push(m[1].replace('./files/', './fonts/') + '\n');
}
if (existsSync(join(font, 'LICENSE'))) copy(join(font, 'LICENSE'), join(nlds, 'fonts', 'LICENSE.txt'));
write(join(nlds, 'fonts.css'), `/* Noto Sans (OFL-1.1), from @fontsource-variable/noto-sans */\n${faces.join('\n')}`);

// 4. index.html with SRI on everything it loads.
const sri = (file) => 'sha384-' + createHash('sha384').update(readFileSync(join(dist, file))).digest('base64');
const walk = (d) => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
const modules = walk(dist)
  .map((f) => relative(dist, f).split('\\').join('/'))
  .filter((f) => /\.(m?js)$/.test(f) && f !== 'app.js' && !f.endsWith('-worker.js'))
  .sort();
const styles = ['vendor/nlds/tokens.css', 'vendor/nlds/fonts.css', 'vendor/nlds/components.css', 'style.css'];
const head = [
  ...styles.map((f) => `<link rel="stylesheet" href="./${f}" integrity="${sri(f)}">`),
  ...modules.map((f) => `<link rel="modulepreload" href="./${f}" integrity="${sri(f)}">`),
  `<script type="module" src="./app.js" integrity="${sri('app.js')}"></script>`,
].join('\n    ');
const html = readFileSync(join(src, 'index.html'), 'utf8');
if (!html.includes('<!-- kluis:head -->')) throw new Error('build: index.html lacks <!-- kluis:head -->');
write(join(dist, 'index.html'), html.replace('<!-- kluis:head -->', head));
console.log(`web/build: ${walk(dist).length} files in ${relative(process.cwd(), dist) || '.'}`);
