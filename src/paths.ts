// Where the checkout keeps its models and caches; overridable for tests and packaging.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DEFAULT_MODELS_DIR = process.env.FACEGATE_MODELS_DIR ?? join(REPO_ROOT, 'models');
export const CACHE_DIR = process.env.FACEGATE_CACHE_DIR ?? join(REPO_ROOT, '.cache');
export const SOURCES_CACHE_DIR = join(CACHE_DIR, 'sources');
