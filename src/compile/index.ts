export { compile } from './compile.js';
export { readArtifact, describeFiles, sha256File, MANIFEST_FILE, type ArtifactManifest, type ArtifactFile } from './manifest.js';
export type { CompileOptions, CompileResult, BackendName, Precision } from './types.js';
