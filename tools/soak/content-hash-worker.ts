/**
 * Worker thread of {@link generatedContentHashInWorker}: hashes a generated file off the main thread, so a test or
 * the soak can compute the hash it expects while the upload it checks runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generatedContentHash } from './content.ts';

const { size, seed } = workerData as { size: number; seed: number };
parentPort?.postMessage(generatedContentHash(size, seed));
