import type { Settings } from './config.js';
export async function runFastCgi(_settings: Settings): Promise<void> {
  throw new Error('FastCGI is not built yet');
}
