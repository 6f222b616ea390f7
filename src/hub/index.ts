export { downloadModel, type DownloadModelOptions, type DownloadedModel } from './download.js';
export { hubCacheDir, repoFolderName } from './cache.js';
