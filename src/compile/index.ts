export { compile } from './compile.js';
export { sha256File } from '../fs/hash.js';
export {
  readArtifact,
  describeFiles,
  MANIFEST_FILE,
  type ArtifactManifest,
  type ArtifactFile,
} from '../artifact/manifest.js';
export type { CompileOptions, CompileResult, BackendName, Precision } from './types.js';
