// web/src/sodium.js — the one door to libsodium (libsodium-wrappers-sumo, copied into vendor/ by
// web/build.sh). Every other module imports the ready instance from here, so nothing uses the
// library before its WebAssembly is compiled.
import sodium from './vendor/sodium/libsodium-wrappers.mjs';

await sodium.ready;

export default sodium;
